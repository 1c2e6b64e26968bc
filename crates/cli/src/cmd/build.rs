//! `plinth build`: an image from flags (`--from … --add SRC:DEST …`) or from a Dockerfile
//! (`-f Dockerfile CONTEXT`), without a daemon, written to a registry, `oci:DIR:TAG` or
//! `docker-archive:FILE:REF`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use plinth_builder::BuildError;
use plinth_builder::dockerfile::Resolver;
use plinth_builder::flags::{self, Add, PlatformAdd, Recipe};
use plinth_builder::layer::{Compression, LayerFile, LayerOptions, Tree};
use plinth_builder::layercache::LayerCache;
use plinth_builder::mutate::{self, Base, BlobFrom, Finished};
use plinth_builder::preflight::Extra;
use plinth_oci::{Platform, Source};

use crate::Global;
use crate::error::{CliError, CliResult, exit};
use crate::image::{ImageName, Opener};

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The build context directory (with -f).
    context: Option<PathBuf>,
    /// Build from this Dockerfile (stages that need no RUN).
    #[arg(short = 'f', long = "file", value_name = "DOCKERFILE")]
    file: Option<PathBuf>,
    /// The base: `scratch`, a registry reference, `oci:DIR:TAG` or `docker-archive:FILE`.
    #[arg(long, value_name = "IMAGE", conflicts_with = "file")]
    from: Option<String>,
    /// Add a host file or directory at DEST; one layer each (see --squash). Repeatable.
    #[arg(long = "add", value_name = "SRC:DEST")]
    add: Vec<String>,
    /// Owner of added files (numeric UID[:GID]); root by default.
    #[arg(long, value_name = "UID[:GID]")]
    chown: Option<String>,
    /// Permissions of added files (octal); by default 0755 for directories and executables,
    /// 0644 for other files.
    #[arg(long, value_name = "MODE")]
    chmod: Option<String>,
    /// Keep the files' own permission bits instead of normalizing them.
    #[arg(long)]
    keep_mode: bool,
    /// One layer for all --add (and --with) files.
    #[arg(long)]
    squash: bool,
    /// The entrypoint: a JSON array, or words (no shell is added).
    #[arg(long, value_name = "CMD")]
    entrypoint: Option<String>,
    /// The default command: a JSON array, or words.
    #[arg(long, value_name = "CMD")]
    cmd: Option<String>,
    /// An environment variable. Repeatable.
    #[arg(long = "env", value_name = "K=V")]
    env: Vec<String>,
    /// A label. Repeatable.
    #[arg(long = "label", value_name = "K=V")]
    label: Vec<String>,
    /// A port to expose (`8080`, `53/udp`). Repeatable.
    #[arg(long = "expose", value_name = "PORT[/PROTO]")]
    expose: Vec<String>,
    /// The user to run as.
    #[arg(long, value_name = "USER[:GROUP]")]
    user: Option<String>,
    /// The working directory.
    #[arg(long, value_name = "DIR")]
    workdir: Option<String>,
    /// The platform to build for. With flags, `OS/ARCH=SRC[:DEST]` adds that platform's own
    /// file (DEST defaults to the entrypoint, else /app); several make an index. Repeatable.
    #[arg(long = "platform", value_name = "OS/ARCH[=SRC[:DEST]]")]
    platform: Vec<String>,
    /// Layer compression: gzip (parallel) or zstd.
    #[arg(long, default_value = "gzip", value_name = "gzip|zstd")]
    compression: String,
    /// Compression level: gzip 1–9 (default 4), zstd 1–19 (default 3).
    #[arg(long, value_name = "N")]
    compression_level: Option<u32>,
    /// Compress every layer, even when the layer cache has the same one.
    #[arg(long)]
    no_cache: bool,
    /// Where to write the image: a registry reference, `oci:DIR:TAG` or
    /// `docker-archive:FILE:REF`.
    #[arg(short = 't', long = "tag", value_name = "DEST")]
    tag: String,
    /// A Dockerfile build argument. Repeatable.
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    build_arg: Vec<String>,
    /// The Dockerfile stage to build (default: the last).
    #[arg(long, value_name = "STAGE")]
    target: Option<String>,
    /// Add what a scratch image often lacks: ca-certificates, passwd, tzdata (from this
    /// machine; passwd is generated).
    #[arg(long = "with", value_delimiter = ',', value_name = "WHAT")]
    with: Vec<String>,
    /// Take the --with files from this image instead of the host.
    #[arg(long, value_name = "IMAGE", requires = "with")]
    with_from: Option<String>,
    /// Allow dynamically linked binaries on scratch.
    #[arg(long)]
    allow_dynamic: bool,
    /// Print what was done as JSON.
    #[arg(long)]
    json: bool,
}

/// A build error for people, with its exit code.
pub fn cli_error(e: BuildError) -> CliError {
    use plinth_oci::ErrorKind;
    let code = match e.kind() {
        ErrorKind::NotFound => exit::NOT_FOUND,
        ErrorKind::Auth => exit::AUTH,
        ErrorKind::Network => exit::NETWORK,
        ErrorKind::Integrity => exit::INTEGRITY,
        ErrorKind::Invalid => exit::INVALID,
        ErrorKind::Unsupported => exit::UNSUPPORTED,
        ErrorKind::Io => exit::IO,
    };
    let mut message = e.to_string();
    let mut cur = std::error::Error::source(&e);
    while let Some(c) = cur {
        let m = c.to_string();
        if !message.contains(&m) {
            message.push_str(&format!(": {m}"));
        }
        cur = c.source();
    }
    CliError { message, code }
}

/// Opens the images a build names, through the CLI's registry client and store.
pub struct CliResolver<'a> {
    /// The opener.
    pub opener: &'a Opener,
}

#[async_trait::async_trait]
impl Resolver for CliResolver<'_> {
    async fn open(&self, name: &str) -> plinth_builder::Result<(Arc<dyn Source>, Option<String>)> {
        let n = ImageName::parse(name).map_err(|e| BuildError::Invalid(e.message))?;
        let src: Arc<dyn Source> = Arc::from(
            self.opener
                .source(&n)
                .map_err(|e| BuildError::Invalid(e.message))?,
        );
        // The base annotation names registry images only (without digest), so that
        // `plinth rebase` can find them again.
        let annotation = n.reference().map(|r| r.without_digest().to_string());
        Ok((src, annotation))
    }
}

fn parse_all<T>(v: &[String], f: impl Fn(&str) -> plinth_builder::Result<T>) -> CliResult<Vec<T>> {
    v.iter().map(|s| f(s).map_err(cli_error)).collect()
}

/// Builds an image.
pub async fn run(g: &Global, a: Args) -> CliResult {
    let opener = g.opener()?;
    let dest = ImageName::parse(&a.tag)?;
    let compression = Compression::parse(&a.compression).ok_or_else(|| {
        CliError::invalid(format!(
            "--compression {:?}: expected gzip or zstd",
            a.compression
        ))
    })?;
    let layer = LayerOptions {
        compression,
        level: a.compression_level,
        cache: (!a.no_cache).then(|| LayerCache::new(opener.store.clone())),
        ..LayerOptions::default()
    };
    let resolver = CliResolver { opener: &opener };
    let (images, warnings) = if let Some(file) = &a.file {
        dockerfile_build(&a, file, layer, &resolver).await?
    } else {
        flags_build(&a, layer, &resolver).await?
    };
    if !(g.quiet || a.json) {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
    }
    // Layers found in the layer cache (not compressed this time).
    let cached = images
        .iter()
        .flat_map(|i| &i.blobs)
        .filter(
            |(_, from)| matches!(from, BlobFrom::File(f) if matches!(**f, LayerFile::Stored(_))),
        )
        .count();
    let sink = opener.sink(&dest)?;
    let progress = crate::progress::for_transfer(g.quiet || a.json);
    let report = mutate::push(&images, sink.as_ref(), progress)
        .await
        .map_err(cli_error)?;
    if a.json {
        return crate::print_json(&serde_json::json!({
            "digest": report.digest,
            "media_type": report.media_type,
            "uploaded": report.uploaded,
            "uploaded_bytes": report.uploaded_bytes,
            "mounted": report.mounted,
            "existing": report.existing,
            "cached_layers": cached,
            "warnings": warnings,
            "platforms": images.iter().map(|i| i.platform.to_string()).collect::<Vec<_>>(),
        }));
    }
    if !g.quiet {
        eprintln!(
            "uploaded {} blobs ({} bytes), mounted {}, already present {}; {} layers from the \
             layer cache",
            report.uploaded, report.uploaded_bytes, report.mounted, report.existing, cached
        );
    }
    println!("{}", report.digest);
    Ok(())
}

async fn resolve_base(
    resolver: &CliResolver<'_>,
    from: &str,
    platform: Option<&Platform>,
) -> CliResult<Base> {
    if from.eq_ignore_ascii_case("scratch") {
        return Ok(Base::scratch(
            &platform.cloned().unwrap_or_else(Platform::host),
        ));
    }
    let (src, name) = resolver.open(from).await.map_err(cli_error)?;
    Base::resolve(src, name, platform).await.map_err(cli_error)
}

async fn with_tree(
    resolver: &CliResolver<'_>,
    image: &str,
    extras: &[Extra],
    platform: &Platform,
) -> CliResult<(Tree, Arc<dyn std::any::Any + Send + Sync>)> {
    let base = resolve_base(resolver, image, Some(platform)).await?;
    let paths: Vec<String> = extras
        .iter()
        .flat_map(|e| e.paths().iter().map(|p| p.to_string()))
        .collect();
    let (tree, keep) = plinth_builder::imagefs::extract(
        &base.layers,
        plinth_builder::imagefs::want_paths(&paths),
        &std::env::temp_dir(),
    )
    .await
    .map_err(cli_error)?;
    let mut t = Tree::new();
    for (p, e) in tree.iter() {
        if paths
            .iter()
            .any(|w| p == w || p.starts_with(&format!("{w}/")))
        {
            t.insert(p, e.clone());
        }
    }
    Ok((t, keep as Arc<dyn std::any::Any + Send + Sync>))
}

async fn flags_build(
    a: &Args,
    layer: LayerOptions,
    resolver: &CliResolver<'_>,
) -> CliResult<(Vec<Finished>, Vec<String>)> {
    let from = a.from.as_deref().ok_or_else(|| {
        CliError::invalid("plinth build needs --from scratch|IMAGE, or -f Dockerfile CONTEXT")
    })?;
    if !a.build_arg.is_empty() || a.target.is_some() || a.context.is_some() {
        return Err(CliError::invalid(
            "a build context, --build-arg and --target go with -f Dockerfile",
        ));
    }
    let entrypoint = a
        .entrypoint
        .as_deref()
        .map(flags::parse_command)
        .transpose()
        .map_err(cli_error)?;
    let default_dest = entrypoint
        .as_ref()
        .and_then(|e| e.first())
        .filter(|e| e.starts_with('/'))
        .cloned()
        .unwrap_or_else(|| "/app".into());
    let with = parse_all(&a.with, Extra::parse)?;
    let mut recipe = Recipe {
        adds: parse_all(&a.add, Add::parse)?,
        chown: a
            .chown
            .as_deref()
            .map(flags::parse_chown)
            .transpose()
            .map_err(cli_error)?,
        chmod: a
            .chmod
            .as_deref()
            .map(flags::parse_mode)
            .transpose()
            .map_err(cli_error)?,
        keep_mode: a.keep_mode,
        squash: a.squash,
        entrypoint,
        cmd: a
            .cmd
            .as_deref()
            .map(flags::parse_command)
            .transpose()
            .map_err(cli_error)?,
        env: parse_all(&a.env, |s| flags::parse_kv("--env", s))?,
        labels: parse_all(&a.label, |s| flags::parse_kv("--label", s))?,
        expose: a.expose.clone(),
        user: a.user.clone(),
        workdir: a.workdir.clone(),
        with,
        with_tree: None,
        allow_dynamic: a.allow_dynamic,
        layer,
    };
    let platforms = parse_all(&a.platform, |s| PlatformAdd::parse(s, &default_dest))?;
    let targets: Vec<(Option<Platform>, Option<Add>)> = if platforms.is_empty() {
        vec![(None, None)]
    } else {
        platforms
            .into_iter()
            .map(|p| (Some(p.platform), p.add))
            .collect()
    };
    let mut images = Vec::new();
    let mut warnings = Vec::new();
    let mut keep = Vec::new();
    for (platform, add) in targets {
        let base = resolve_base(resolver, from, platform.as_ref()).await?;
        if let Some(img) = &a.with_from {
            let (t, k) = with_tree(resolver, img, &recipe.with, &base.platform()).await?;
            recipe.with_tree = Some(t);
            keep.push(k);
        }
        let built = flags::build(&recipe, &base, add.as_ref())
            .await
            .map_err(cli_error)?;
        let p = built.image.platform.to_string();
        warnings.extend(built.warnings.into_iter().map(|w| {
            if a.platform.len() > 1 {
                format!("{p}: {w}")
            } else {
                w
            }
        }));
        images.push(built.image);
    }
    drop(keep);
    Ok((images, warnings))
}

async fn dockerfile_build(
    a: &Args,
    file: &std::path::Path,
    layer: LayerOptions,
    resolver: &CliResolver<'_>,
) -> CliResult<(Vec<Finished>, Vec<String>)> {
    if !a.add.is_empty() || a.entrypoint.is_some() || a.cmd.is_some() || !a.with.is_empty() {
        return Err(CliError::invalid(
            "--add, --entrypoint, --cmd and --with go with --from; a Dockerfile says it all",
        ));
    }
    let context = a.context.clone().unwrap_or_else(|| PathBuf::from("."));
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::invalid(format!("{}: {e}", file.display())))?;
    let mut build_args = BTreeMap::new();
    for b in &a.build_arg {
        match b.split_once('=') {
            Some((k, v)) => build_args.insert(k.to_string(), v.to_string()),
            // `--build-arg NAME` takes the value from the environment, as Docker does.
            None => build_args.insert(b.clone(), std::env::var(b).unwrap_or_default()),
        };
    }
    let platforms: Vec<Platform> = if a.platform.is_empty() {
        vec![Platform::host()]
    } else {
        a.platform
            .iter()
            .map(|p| Platform::parse(p).map_err(|e| CliError::invalid(e.to_string())))
            .collect::<CliResult<_>>()?
    };
    let mut images = Vec::new();
    let mut warnings = Vec::new();
    for platform in platforms {
        let opts = plinth_builder::dockerfile::Options {
            file_name: file.display().to_string(),
            context: context.clone(),
            build_args: build_args.clone(),
            target: a.target.clone(),
            platform,
            layer: layer.clone(),
            allow_dynamic: a.allow_dynamic,
        };
        let out = plinth_builder::dockerfile::build(&text, &opts, resolver)
            .await
            .map_err(cli_error)?;
        warnings.extend(out.warnings);
        images.push(out.image);
    }
    Ok((images, warnings))
}
