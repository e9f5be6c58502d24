//! The build context as the tar archive the Engine API wants: the context directory minus what
//! `.dockerignore` excludes, plus the extra files and the Dockerfile. Entries are sorted and carry
//! mtime 0 and uid/gid 0, so the same inputs give the same bytes (and the builder's cache hits),
//! while file modes survive so an executable stays executable.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use super::ImageError;
use super::ImageSpec;
use super::ignore::DockerIgnore;

/// Where a Dockerfile from outside the context goes inside the archive.
pub const OUTSIDE_DOCKERFILE: &str = ".dockerfile.thidctl";

/// A packed build context.
#[derive(Debug)]
pub struct PackedContext {
    pub tar: Vec<u8>,
    /// The Dockerfile's path inside the archive: the `dockerfile` build parameter.
    pub dockerfile: String,
}

#[derive(Debug)]
enum Entry {
    Dir { mode: u32 },
    File { disk: PathBuf, mode: u32 },
    Symlink { target: PathBuf },
}

/// Packs the context of `spec`. Blocking: call it from `spawn_blocking`.
pub fn pack(spec: &ImageSpec) -> Result<PackedContext, ImageError> {
    let context = fs::canonicalize(&spec.context).map_err(|source| ImageError::ContextIo {
        path: spec.context.clone(),
        source,
    })?;
    if !context.is_dir() {
        return Err(ImageError::Context {
            path: spec.context.clone(),
            problem: "not a directory".into(),
        });
    }
    let dockerfile_disk =
        fs::canonicalize(&spec.dockerfile).map_err(|source| ImageError::ContextIo {
            path: spec.dockerfile.clone(),
            source,
        })?;

    let ignore = DockerIgnore::read(&context)?;
    let mut entries = BTreeMap::new();
    walk(&context, "", &ignore, &mut entries)?;

    // Docker sends these two even when .dockerignore lists them: the daemon needs the Dockerfile,
    // and the ignore file is how the daemon knows what the client left out.
    let dockerfile = match dockerfile_disk.strip_prefix(&context) {
        Ok(inside) => slash_path(inside),
        Err(_) => OUTSIDE_DOCKERFILE.to_string(),
    };
    add_file(&mut entries, &dockerfile_disk, dockerfile.clone())?;
    let ignore_file = context.join(".dockerignore");
    if ignore_file.is_file() {
        add_file(&mut entries, &ignore_file, ".dockerignore".to_string())?;
    }

    for (disk, inside) in &spec.extra_files {
        let name = context_name(inside).ok_or_else(|| ImageError::Context {
            path: disk.clone(),
            problem: format!("`{inside}` is not a relative path inside the context"),
        })?;
        add_file(&mut entries, disk, name)?;
    }

    let tar = write_tar(&entries).map_err(|source| ImageError::ContextIo {
        path: spec.context.clone(),
        source,
    })?;
    Ok(PackedContext { tar, dockerfile })
}

fn walk(
    dir: &Path,
    prefix: &str,
    ignore: &DockerIgnore,
    entries: &mut BTreeMap<String, Entry>,
) -> Result<(), ImageError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImageError::ContextIo { path, source }
    };
    for item in fs::read_dir(dir).map_err(io(dir))? {
        let item = item.map_err(io(dir))?;
        let disk = item.path();
        let Some(file_name) = item.file_name().to_str().map(str::to_string) else {
            return Err(ImageError::Context {
                path: disk,
                problem: "file name is not UTF-8".into(),
            });
        };
        let name = if prefix.is_empty() {
            file_name
        } else {
            format!("{prefix}/{file_name}")
        };
        let meta = fs::symlink_metadata(&disk).map_err(io(&disk))?;
        let excluded = ignore.is_excluded(&name);
        if meta.is_dir() {
            if excluded && !ignore.has_exceptions() {
                continue;
            }
            if !excluded {
                entries.insert(name.clone(), Entry::Dir { mode: mode(&meta) });
            }
            walk(&disk, &name, ignore, entries)?;
        } else if excluded {
            continue;
        } else if meta.file_type().is_symlink() {
            let target = fs::read_link(&disk).map_err(io(&disk))?;
            entries.insert(name, Entry::Symlink { target });
        } else if meta.is_file() {
            entries.insert(
                name,
                Entry::File {
                    disk,
                    mode: mode(&meta),
                },
            );
        }
        // Sockets, FIFOs and devices have no place in an image; Docker skips them too.
    }
    Ok(())
}

fn add_file(
    entries: &mut BTreeMap<String, Entry>,
    disk: &Path,
    name: String,
) -> Result<(), ImageError> {
    let meta = fs::metadata(disk).map_err(|source| ImageError::ContextIo {
        path: disk.to_path_buf(),
        source,
    })?;
    if !meta.is_file() {
        return Err(ImageError::Context {
            path: disk.to_path_buf(),
            problem: "not a regular file".into(),
        });
    }
    entries.insert(
        name,
        Entry::File {
            disk: disk.to_path_buf(),
            mode: mode(&meta),
        },
    );
    Ok(())
}

fn mode(meta: &fs::Metadata) -> u32 {
    meta.permissions().mode() & 0o7777
}

/// `./bin/app` → `bin/app`; None for absolute paths or ones that climb out with `..`.
fn context_name(inside: &str) -> Option<String> {
    let path = Path::new(inside);
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn slash_path(path: &Path) -> String {
    path.components()
        .map(|component| component.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn write_tar(entries: &BTreeMap<String, Entry>) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, entry) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        match entry {
            Entry::Dir { mode } => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                header.set_size(0);
                builder.append_data(&mut header, format!("{name}/"), std::io::empty())?;
            }
            Entry::File { disk, mode } => {
                let file = fs::File::open(disk)?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(file.metadata()?.len());
                builder.append_data(&mut header, name, file)?;
            }
            Entry::Symlink { target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                builder.append_link(&mut header, name, target)?;
            }
        }
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Read;

    use super::*;

    fn spec(context: &Path, dockerfile: PathBuf) -> ImageSpec {
        ImageSpec {
            name: "thidctl/test".into(),
            tag: "dev".into(),
            context: context.to_path_buf(),
            dockerfile,
            extra_files: Vec::new(),
            build_args: BTreeMap::new(),
            network_host: false,
        }
    }

    fn write(path: &Path, text: &str, mode: u32) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// (path, mode, content) of every entry, in archive order.
    fn entries(tar_bytes: &[u8]) -> Vec<(String, u32, String)> {
        let mut archive = tar::Archive::new(tar_bytes);
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let mut entry = entry.unwrap();
                let path = entry.path().unwrap().to_string_lossy().into_owned();
                let mode = entry.header().mode().unwrap();
                assert_eq!(entry.header().mtime().unwrap(), 0, "{path} has mtime 0");
                let mut content = String::new();
                entry.read_to_string(&mut content).unwrap();
                (path, mode, content)
            })
            .collect()
    }

    fn names(tar_bytes: &[u8]) -> Vec<String> {
        entries(tar_bytes)
            .into_iter()
            .map(|(path, _, _)| path)
            .collect()
    }

    #[test]
    fn packs_the_context_minus_ignored_files_plus_extras() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path().join("ctx");
        write(&ctx.join("Dockerfile"), "FROM scratch\n", 0o644);
        write(
            &ctx.join(".dockerignore"),
            "# keep it small\nbig.bin\nlogs\n!logs/keep.log\nDockerfile\n.dockerignore\n",
            0o644,
        );
        write(&ctx.join("big.bin"), "xxxx", 0o644);
        write(&ctx.join("app/config.toml"), "a = 1", 0o600);
        write(&ctx.join("logs/drop.log"), "no", 0o644);
        write(&ctx.join("logs/keep.log"), "yes", 0o644);
        std::os::unix::fs::symlink("app/config.toml", ctx.join("config.link")).unwrap();
        let binary = dir.path().join("prebuilt");
        write(&binary, "#!/bin/sh\n", 0o755);

        let mut spec = spec(&ctx, ctx.join("Dockerfile"));
        spec.extra_files
            .push((binary, "./bin/thidwick-starter".into()));
        let packed = pack(&spec).unwrap();

        assert_eq!(packed.dockerfile, "Dockerfile");
        assert_eq!(
            names(&packed.tar),
            [
                ".dockerignore",
                "Dockerfile",
                "app/",
                "app/config.toml",
                "bin/thidwick-starter",
                "config.link",
                "logs/keep.log"
            ]
        );
        let all = entries(&packed.tar);
        let mode_of = |name: &str| all.iter().find(|(path, _, _)| path == name).unwrap().1;
        assert_eq!(mode_of("bin/thidwick-starter"), 0o755);
        assert_eq!(mode_of("app/config.toml"), 0o600);
        assert_eq!(
            pack(&spec).unwrap().tar,
            packed.tar,
            "packing is deterministic"
        );
    }

    #[test]
    fn a_dockerfile_outside_the_context_is_carried_in() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path().join("ctx");
        write(&ctx.join("hello.txt"), "hi", 0o644);
        write(
            &dir.path().join("docker/Dockerfile.special"),
            "FROM scratch\nCOPY hello.txt /\n",
            0o644,
        );

        let packed = pack(&spec(&ctx, dir.path().join("docker/Dockerfile.special"))).unwrap();

        assert_eq!(packed.dockerfile, OUTSIDE_DOCKERFILE);
        let all = entries(&packed.tar);
        assert!(
            all.iter()
                .any(|(path, _, content)| path == OUTSIDE_DOCKERFILE
                    && content.starts_with("FROM scratch"))
        );
        assert!(all.iter().any(|(path, _, _)| path == "hello.txt"));
    }

    #[test]
    fn a_dockerfile_in_a_subdirectory_keeps_its_path() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("k8s/Dockerfile.locust"),
            "FROM scratch\n",
            0o644,
        );
        let packed = pack(&spec(dir.path(), dir.path().join("k8s/Dockerfile.locust"))).unwrap();
        assert_eq!(packed.dockerfile, "k8s/Dockerfile.locust");
    }

    #[test]
    fn extra_files_must_stay_inside_the_context() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("Dockerfile"), "FROM scratch\n", 0o644);
        let mut spec = spec(dir.path(), dir.path().join("Dockerfile"));
        spec.extra_files
            .push((dir.path().join("Dockerfile"), "../escape".into()));
        let message = pack(&spec).unwrap_err().to_string();
        assert!(
            message.contains("not a relative path inside the context"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_context_names_the_path() {
        let missing = PathBuf::from("/nonexistent/thidctl-context");
        let message = pack(&spec(&missing, missing.join("Dockerfile")))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("/nonexistent/thidctl-context"),
            "{message}"
        );
    }
}
