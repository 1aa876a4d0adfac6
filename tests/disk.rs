//! `render` on a disk that fills up (part of the second suite: it mounts a small tmpfs, so it runs
//! as root, as `.ci/run` does). A run whose writes fail publishes nothing: no file under a final
//! name is ever cut short, and the letters already in the folder stay as they were.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Test;

/// A tmpfs of `size` mounted on `dir`, unmounted when dropped.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect(
                "mount runs (the second suite mounts a tmpfs: run it as root, as .ci/run does)",
            );
        assert!(
            status.success(),
            "mount -t tmpfs failed: the second suite runs as root"
        );
        SmallDisk {
            dir: dir.to_path_buf(),
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

/// `n` recipients with email: r-001, r-002 …
fn recipients(n: usize) -> String {
    (1..=n)
        .map(|i| {
            format!(
                "[[recipient]]\nid = \"r-{i:03}\"\nname = \"Ambassador {i}\"\nemail = \"r{i}@example.org\"\naddress = [\"Embassy Road {i}\", \"0244 Oslo\"]\n\n"
            )
        })
        .collect()
}

/// Every file under `dir` (hidden ones too) by name, with its bytes; none when it is not there.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| e.unwrap())
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap();
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect()
}

/// The names in `dir`, folders too, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn hidden(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|name| name.starts_with('.'))
        .collect()
}

#[test]
fn a_render_onto_a_full_disk_publishes_nothing_and_says_the_disk_is_full() {
    let test = Test::campaign().recipients(&recipients(300));
    let disk = SmallDisk::mount(&test.path().join("disk"), "300k");
    let ran = test
        .args(["render", "--out", "disk/out"])
        .status(1)
        .stderr_has("error: the disk is full: cannot write r-")
        .stderr_has(" = recipient: r-")
        .stderr_has("nothing was written: disk/out was not made")
        .stderr_has("free space on that disk, or render into a folder on another disk with --out")
        .stderr_has("nothing was written to disk/out")
        .stderr_lacks("wrote ")
        .run();
    // One error for the full disk, not one per file.
    assert_eq!(ran.stderr.matches("error:").count(), 1, "{}", ran.report());
    assert!(!disk.dir.join("out").exists(), "{}", ran.report());
    assert!(names(&disk.dir).is_empty(), "{:?}", names(&disk.dir));
    assert!(hidden(ran.path()).is_empty(), "{:?}", hidden(ran.path()));
}

#[test]
fn a_full_disk_leaves_the_letters_already_there_whole_and_as_they_were() {
    let only: Vec<String> = (1..=5)
        .flat_map(|i| ["--only".to_string(), format!("r-{i:03}")])
        .collect();
    let test = Test::campaign().recipients(&recipients(300));
    let disk = SmallDisk::mount(&test.path().join("disk"), "300k");
    let ran = test
        .args(["render", "--out", "disk/out"])
        .args(only.clone())
        .stderr_has("wrote 20 files for 5 letters")
        .run();
    let before = files(&disk.dir.join("out"));
    // The same letters on a roomy disk, byte for byte.
    let ran = ran
        .again()
        .args(["render", "--out", "roomy"])
        .args(only)
        .run();
    assert_eq!(before, files(&ran.path().join("roomy")));
    // A new wording, and every recipient: the disk fills up.
    let letter = ran
        .read("templates/letter.md")
        .replace("We write", "We write again");
    let ran = ran
        .again()
        .file("templates/letter.md", &letter)
        .args(["render", "--out", "disk/out"])
        .status(1)
        .stderr_has("error: the disk is full: cannot write r-")
        .stderr_has("nothing was written to disk/out: the files there are as they were")
        .stderr_lacks("wrote ")
        .run();
    assert_eq!(files(&disk.dir.join("out")), before, "{}", ran.report());
    assert_eq!(names(&disk.dir), ["out"]);
    // With room again, the new wording replaces every letter.
    let ran = ran
        .again()
        .args(["render", "--out", "roomy"])
        .stderr_has("wrote 1200 files for 300 letters")
        .run();
    assert!(ran.read("roomy/r-001.md").contains("We write again"));
}
