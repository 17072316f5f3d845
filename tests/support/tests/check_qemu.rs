//! `ci/check-qemu.sh`, the proof `ci/install-qemu.sh` gives before it
//! reports success: it passes the installed releases and fails programs
//! that exist but do not work, naming the problem.

use std::path::{Path, PathBuf};

use qemu_test_support::{Release, check_programs};

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_program(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn installed_releases_pass() {
    for release in Release::ALL {
        let programs: Vec<PathBuf> = Release::PROGRAMS.iter().map(|p| release.bin(p)).collect();
        let report = check_programs(&programs)
            .unwrap_or_else(|e| panic!("QEMU {release:?} fails its check:\n{e}"));
        for program in &programs {
            assert!(
                report.contains(&format!("ok {}", program.display())),
                "{report}"
            );
        }
    }
}

#[test]
fn empty_module_directory_fails_naming_the_module_problem() {
    let dir = scratch("empty-module-dir");
    let modules = dir.join("modules");
    std::fs::create_dir(&modules).unwrap();
    let installed = Release::V10_0.qemu();
    // The installed wrapper with its QEMU_MODULE_DIR pointed at `modules`,
    // or, for a real binary, a wrapper setting it.
    let bytes = std::fs::read(&installed).unwrap();
    let wrapper = match std::str::from_utf8(&bytes) {
        Ok(text) if text.starts_with("#!") => {
            let (head, tail) = text.split_once("QEMU_MODULE_DIR=").unwrap_or_else(|| {
                panic!(
                    "{} sets no QEMU_MODULE_DIR: not a wrapper of ci/install-qemu.sh",
                    installed.display()
                )
            });
            let rest = &tail[tail.find(' ').unwrap()..];
            format!("{head}QEMU_MODULE_DIR={}{rest}", modules.display())
        }
        _ => format!(
            "#!/bin/sh\nQEMU_MODULE_DIR={} exec {} \"$@\"\n",
            modules.display(),
            installed.display()
        ),
    };
    let program = dir.join("qemu-system-x86_64");
    write_program(&program, &wrapper);

    let err = check_programs(std::slice::from_ref(&program))
        .expect_err("a QEMU that finds no modules must fail the check");
    assert!(
        err.contains(&format!(
            "FAIL {}: a module did not load",
            program.display()
        )),
        "{err}"
    );
    assert!(err.contains("QEMU_MODULE_DIR"), "{err}");
    assert!(
        err.contains("fix: reinstall with `sudo ci/install-qemu.sh`"),
        "{err}"
    );
}

#[test]
fn programs_that_exit_without_working_fail() {
    let dir = scratch("silent-programs");
    let programs: Vec<PathBuf> = Release::PROGRAMS
        .iter()
        .map(|name| {
            let path = dir.join(name);
            write_program(&path, "#!/bin/sh\nexit 0\n");
            path
        })
        .collect();
    let err = check_programs(&programs).expect_err("programs that do nothing pass no check");
    for program in &programs {
        assert!(
            err.contains(&format!("FAIL {}", program.display())),
            "{err}"
        );
    }
    assert!(err.contains("0 of 2 QMP replies"), "{err}");
}

#[test]
fn missing_program_fails_naming_the_installer() {
    let program = scratch("missing").join("qemu-ga");
    let err = check_programs(std::slice::from_ref(&program)).expect_err("missing");
    assert!(
        err.contains(&format!("FAIL {}: missing", program.display())),
        "{err}"
    );
    assert!(err.contains("sudo ci/install-qemu.sh"), "{err}");
}
