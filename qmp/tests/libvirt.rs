//! `qmp --libvirt URI --domain NAME …` against a private libvirtd running
//! the test guest on QEMU 7.2: the guest end-to-end checks of `guest.rs`
//! (keys and typing read back on the serial port, screenshots, PCI
//! unplug), run control, `exec`, `list --libvirt`, the environment
//! variables, a remote-style `qemu+tcp://` URI on loopback, and the guest
//! agent (qemu-ga in the guest, reached through libvirt's agent channel).

mod common;

#[cfg(not(feature = "libvirt"))]
#[test]
fn libvirt_feature_is_on() {
    panic!(
        "these tests need qmp built with libvirt: run `cargo test -p qmp-cli --features libvirt` \
         (needs libvirt: sudo bash ci/install-libvirt.sh)"
    );
}

#[cfg(feature = "libvirt")]
mod with_libvirt {
    use std::os::unix::net::UnixStream;
    use std::path::Path;
    use std::process::Output;
    use std::time::Duration;

    use super::common::checks::*;
    use super::common::*;
    use qemu_test_support::libvirt::{Libvirtd, guest_domain_xml};

    /// The test guest as a libvirt domain, reached with `--libvirt URI
    /// --domain NAME`.
    struct Domain {
        uri: String,
        name: String,
        serial: UnixStream,
        scratch: TempDir,
    }

    impl Domain {
        fn boot(daemon: &Libvirtd, name: &str) -> Domain {
            let g = guest_dir();
            let scratch = TempDir::new("libvirt-guest");
            let serial = scratch.join("serial.sock");
            let xml = guest_domain_xml(
                name,
                &Release::V7_2.qemu(),
                &g.join("vmlinuz"),
                &g.join("initrd.img"),
                &serial,
            );
            // Paused until the serial port is connected, so that no output
            // is lost.
            daemon.create(name, &xml, true);
            let serial = UnixStream::connect(&serial)
                .unwrap_or_else(|e| panic!("serial socket: {e}\n{}", daemon.log_tail()));
            let out = daemon.virsh(&["resume", name]);
            assert!(out.status.success(), "{out:?}");
            let mut dom = Domain {
                uri: daemon.uri.clone(),
                name: name.to_owned(),
                serial,
                scratch,
            };
            dom.wait_serial("GUEST-READY", Duration::from_secs(60));
            dom
        }
    }

    impl Guest for Domain {
        fn qmp(&self, args: &[&str]) -> Output {
            let mut all = vec!["--libvirt", &self.uri, "--domain", &self.name];
            all.extend_from_slice(args);
            qmp(&all)
        }

        fn wait_serial(&mut self, marker: &str, limit: Duration) -> Vec<u8> {
            read_until(&mut self.serial, marker, limit)
        }

        fn scratch(&self) -> &Path {
            &self.scratch.path
        }
    }

    #[test]
    fn guest_through_libvirt() {
        within(Duration::from_secs(300), || {
            let daemon = Libvirtd::start_tcp("cli");
            let mut dom = Domain::boot(&daemon, "guest1");
            keys_arrive(&mut dom);
            type_arrives(&mut dom);
            screendump(&dom);
            pci_unplug(&dom);
            run_control(&dom);
            events_and_shell(&dom);
            environment(&dom);
            listing(&daemon);
            remote_uri(&daemon);
            agent(&dom, &daemon);
        });
    }

    fn run_control(dom: &Domain) {
        ok(dom.qmp(&["pause"]));
        assert!(ok(dom.qmp(&["status"])).contains("paused"));
        ok(dom.qmp(&["resume"]));
        assert!(ok(dom.qmp(&["status"])).contains("running"));
        let name = ok(dom.qmp(&["--json", "exec", "query-name"]));
        assert!(name.contains("guest1"), "{name}");
        let props = ok(dom.qmp(&["qom", "ls", "/machine"]));
        assert!(props.contains("type"), "{props}");
        // QEMU's errors arrive as for any monitor.
        let err = fails(dom.qmp(&["qom", "ls", "/nonesuch"]));
        assert!(err.contains("nonesuch"), "{err}");
    }

    /// `events` prints what libvirt forwards; `shell` runs commands.
    fn events_and_shell(dom: &Domain) {
        // `--wait 60` bounds the events client whatever happens.
        let mut events = std::process::Command::new(qmp_bin())
            .args(["--libvirt", &dom.uri, "--domain", &dom.name, "--json"])
            .args(["events", "STOP", "--wait", "60"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // It subscribes some time after it starts: pause and resume until
        // it has seen a STOP and exited (at most 100 times).
        let mut exited = false;
        for _ in 0..100 {
            ok(dom.qmp(&["pause"]));
            ok(dom.qmp(&["resume"]));
            if events.try_wait().unwrap().is_some() {
                exited = true;
                break;
            }
        }
        assert!(exited, "`qmp events STOP` saw no STOP after 100 pauses");
        let text = ok(events.wait_with_output().unwrap());
        assert!(text.contains("\"STOP\""), "{text}");
        let script = dom.scratch().join("shell.txt");
        std::fs::write(&script, "query-status\nquery-name\nquit\n").unwrap();
        let mut shell = std::process::Command::new(qmp_bin());
        shell
            .args([
                "--libvirt",
                &dom.uri,
                "--domain",
                &dom.name,
                "--json",
                "shell",
            ])
            .stdin(std::fs::File::open(&script).unwrap());
        let text = ok(run_limited(shell, Duration::from_secs(60)));
        assert!(
            text.contains("\"running\"") && text.contains("guest1"),
            "{text}"
        );
    }

    fn environment(dom: &Domain) {
        let env = |vars: &[(&str, &str)], args: &[&str]| {
            let mut cmd = std::process::Command::new(qmp_bin());
            cmd.args(args)
                .env_remove("QMP_SOCKET")
                .env_remove("QMP_VM")
                .env_remove("QMP_LIBVIRT_URI")
                .env_remove("QMP_DOMAIN")
                .env_remove("LIBVIRT_DEFAULT_URI");
            for (k, v) in vars {
                cmd.env(k, v);
            }
            run_limited(cmd, Duration::from_secs(60))
        };
        let out = ok(env(
            &[("QMP_LIBVIRT_URI", &dom.uri), ("QMP_DOMAIN", &dom.name)],
            &["status"],
        ));
        assert!(out.contains("running"), "{out}");
        let out = ok(env(
            &[("LIBVIRT_DEFAULT_URI", &dom.uri)],
            &["--domain", &dom.name, "status"],
        ));
        assert!(out.contains("running"), "{out}");
        let err = fails(env(&[], &["--domain", &dom.name, "status"]));
        assert!(err.contains("--libvirt URI"), "{err}");
        let err = fails(env(&[], &["--libvirt", &dom.uri, "status"]));
        assert!(err.contains("--domain"), "{err}");
        let err = fails(qmp(&[
            "--libvirt",
            &dom.uri,
            "--domain",
            "nonesuch",
            "status",
        ]));
        assert!(
            err.contains("no domain `nonesuch`") && err.contains("guest1"),
            "{err}"
        );
    }

    fn listing(daemon: &Libvirtd) {
        let out = ok(qmp(&["list", "--libvirt", &daemon.uri]));
        assert!(
            out.lines()
                .any(|l| l.starts_with("guest1") && l.contains("running")),
            "{out}"
        );
        let json = ok(qmp(&["--json", "list", "--libvirt", &daemon.uri]));
        assert!(json.contains("\"status\":\"running\""), "{json}");
    }

    /// The same guest over `qemu+tcp://127.0.0.1:PORT/system`.
    fn remote_uri(daemon: &Libvirtd) {
        let uri = daemon.tcp_uri.clone().unwrap();
        let base = ["--libvirt", uri.as_str(), "--domain", "guest1"];
        let with = |args: &[&str]| qmp(&[&base[..], args].concat());
        ok(with(&["pause"]));
        assert!(ok(with(&["status"])).contains("paused"));
        ok(with(&["resume"]));
        assert!(ok(with(&["status"])).contains("running"));
        let out = ok(qmp(&["list", "--libvirt", &uri]));
        assert!(out.contains("guest1"), "{out}");
    }

    /// The guest's qemu-ga, through libvirt (`virDomainQemuAgentCommand`),
    /// on both URIs.
    fn agent(dom: &Domain, daemon: &Libvirtd) {
        ok(dom.qmp(&["ga", "ping"]));
        let info = ok(dom.qmp(&["ga", "info"]));
        assert!(info.contains("7.2"), "{info}");
        let out = ok(dom.qmp(&["ga", "cat", "/proc/version"]));
        assert!(out.contains("Linux version"), "{out}");
        let out = ok(dom.qmp(&["ga", "exec", "/bin/echo", "hello", "agent"]));
        assert!(out.contains("hello agent"), "{out}");
        let tcp = daemon.tcp_uri.clone().unwrap();
        ok(qmp(&[
            "--libvirt",
            &tcp,
            "--domain",
            "guest1",
            "ga",
            "ping",
        ]));
    }
}
