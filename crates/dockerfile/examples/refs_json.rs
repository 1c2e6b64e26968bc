//! Prints the analysis of a Dockerfile (path as first argument) as JSON.
fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: refs_json DOCKERFILE");
    let src = std::fs::read_to_string(&path).expect("read");
    match plinth_dockerfile::parse(&src) {
        Ok(df) => {
            let a = df.analyze(&Default::default());
            println!("{}", serde_json::to_string_pretty(&a.refs).unwrap());
        }
        Err(e) => eprint!("{}", e.render(&path, &src)),
    }
}
