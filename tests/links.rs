//! `render` never writes through a link planted where it puts its hidden files. These run the
//! command in this process, so they know its process id and can plant a link at every hidden name
//! a render could derive from it (the names of earlier versions), besides the names it uses.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use lettermerge::clock::Clock;
use lettermerge::cmd::render::Render;
use lettermerge::cmd::Output;
use lettermerge::render::Format;

const SETTINGS: &str = "[campaign]\nid = \"links\"\ndate = 2026-12-10\n";
const TEMPLATE: &str = "Dear {{recipient.name}},\n\nWe write to you.\n";
const RECIPIENTS: &str = "[[recipient]]\nid = \"alice\"\nname = \"Alice Ambassador\"\n\n\
                          [[recipient]]\nid = \"bob\"\nname = \"Bob Minister\"\n";

/// A campaign folder, and beside it a folder of files a link could lead to.
struct Setup {
    _tempdir: tempfile::TempDir,
    campaign: PathBuf,
    victims: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let tempdir = tempfile::tempdir().unwrap();
        let campaign = tempdir.path().join("campaign");
        let victims = tempdir.path().join("victims");
        std::fs::create_dir_all(campaign.join("templates")).unwrap();
        std::fs::create_dir_all(&victims).unwrap();
        std::fs::write(campaign.join("lettermerge.toml"), SETTINGS).unwrap();
        std::fs::write(campaign.join("templates/letter.md"), TEMPLATE).unwrap();
        std::fs::write(campaign.join("recipients.toml"), RECIPIENTS).unwrap();
        Setup {
            _tempdir: tempdir,
            campaign,
            victims,
        }
    }

    /// A file outside the campaign that no render may change, and a link to it at `at`.
    fn plant(&self, at: &Path, victim: &str) {
        let target = self.victims.join(victim);
        if !target.exists() {
            std::fs::write(&target, "not a letter\n").unwrap();
        }
        symlink(&target, at).unwrap();
    }

    /// `lettermerge render --format md --out DIR` in this process.
    fn render(&self, out: &Path) -> bool {
        let render = Render {
            format: vec![Format::Md],
            combined: false,
            only: Vec::new(),
            out: Some(out.to_path_buf()),
            stdout: false,
            allow_outside: false,
        };
        let clock = Clock::fixed("2026-12-01T10:00:00+00:00".parse().unwrap());
        render.execute(&self.campaign, &clock, &mut Output::new())
    }

    /// Every file a link led to is as it was, and no folder beside the campaign gained files.
    fn assert_untouched(&self) {
        for entry in std::fs::read_dir(&self.victims).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                assert_eq!(
                    std::fs::read_to_string(&path).unwrap(),
                    "not a letter\n",
                    "{} was written through a link",
                    path.display()
                );
            } else {
                let inside: Vec<_> = std::fs::read_dir(&path).unwrap().collect();
                assert!(
                    inside.is_empty(),
                    "letters went through a link into {}",
                    path.display()
                );
            }
        }
    }
}

/// Asserts that `dir` is a real folder holding the two letters, as real files.
fn assert_letters(dir: &Path) {
    assert!(!dir.symlink_metadata().unwrap().is_symlink());
    for id in ["alice", "bob"] {
        let path = dir.join(format!("{id}.md"));
        let meta = path.symlink_metadata().unwrap();
        assert!(meta.is_file(), "{} is not a file", path.display());
        assert!(std::fs::read_to_string(&path).unwrap().starts_with("Dear "));
    }
}

#[test]
fn a_link_at_a_temporary_name_is_never_written_through() {
    let setup = Setup::new();
    let out = setup.campaign.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("alice.md"), "an old letter\n").unwrap();
    let pid = std::process::id();
    for name in ["alice.md", "bob.md"] {
        setup.plant(&out.join(format!(".{name}.{pid}.tmp")), name);
    }
    assert!(setup.render(&out));
    setup.assert_untouched();
    assert_letters(&out);
}

#[test]
fn a_link_at_the_staging_name_is_never_followed() {
    let setup = Setup::new();
    let out = setup.campaign.join("out");
    let elsewhere = setup.victims.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    symlink(
        &elsewhere,
        setup
            .campaign
            .join(format!(".out.{}.partial", std::process::id())),
    )
    .unwrap();
    assert!(setup.render(&out));
    setup.assert_untouched();
    assert_letters(&out);
}

#[test]
fn a_link_at_a_final_name_is_replaced_by_the_letter_not_written_through() {
    let setup = Setup::new();
    let out = setup.campaign.join("out");
    std::fs::create_dir_all(&out).unwrap();
    setup.plant(&out.join("alice.md"), "alice.md");
    assert!(setup.render(&out));
    setup.assert_untouched();
    assert_letters(&out);
}

#[test]
fn a_render_leaves_no_hidden_file_in_the_folder_or_beside_it() {
    let setup = Setup::new();
    let out = setup.campaign.join("out");
    assert!(setup.render(&out));
    assert!(setup.render(&out));
    for dir in [&setup.campaign, &out] {
        let hidden: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(hidden.is_empty(), "{}: {hidden:?}", dir.display());
    }
}
