//! Rough timing of `parse` + `analyze` on a large generated Dockerfile.
fn main() {
    let mut src = String::from("ARG BASE=alpine:3.19\n");
    for i in 0..5000 {
        src.push_str(&format!("FROM ${{BASE}} AS s{i}\nRUN --mount=type=cache,target=/c echo {i} \\\n  && true\nCOPY --from=s0 /a /b\n"));
    }
    let t = std::time::Instant::now();
    let df = plinth_dockerfile::parse(&src).unwrap();
    let parsed = t.elapsed();
    let refs = df.image_refs(&Default::default());
    eprintln!(
        "{} bytes, {} instructions, {} refs: parse {:?}, total {:?}",
        src.len(),
        df.instructions.len(),
        refs.len(),
        parsed,
        t.elapsed()
    );
}
