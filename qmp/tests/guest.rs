//! End to end in a real Linux guest, on QEMU 7.2, 10.0 and 11.1: what `qmp keys`
//! and `qmp type` send arrives in the guest byte for byte (read back on
//! the serial port), screenshots are real PNGs of the screen, and PCI
//! unplug completes only with the guest's help. Then every example of
//! MAQET's QMP reference that needs no MAQET VM manager, written as the
//! reference writes it with `--vm myvm`: each shown to do in the guest
//! what the reference says. One booted guest per release runs every step,
//! in order.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::checks::*;
use common::*;
use serde_json::Value;

/// The VM name of MAQET's examples.
const VM_ID: &str = "myvm";

/// Makes the guest's monitor the VM `myvm` of a private runtime directory
/// (`XDG_RUNTIME_DIR` is `DIR/xdg`), as `qmp launch myvm` would.
fn name_vm(vm: &Vm) {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = vm.dir.join("xdg/qmp");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(vm.dir.join("qmp.sock"), dir.join(format!("{VM_ID}.sock"))).unwrap();
}

/// `qmp ARGS` with the runtime directory of [`name_vm`], run in the VM's
/// directory (so relative file names land there).
fn qmp_at_home(vm: &Vm, args: &[&str]) -> Output {
    let mut cmd = Command::new(qmp_bin());
    cmd.args(args)
        .current_dir(&vm.dir.path)
        .env("XDG_RUNTIME_DIR", vm.dir.join("xdg"))
        .env_remove("QMP_SOCKET")
        .env_remove("QMP_VM")
        .stdin(Stdio::null());
    run_limited(cmd, Duration::from_secs(60))
}

/// MAQET's `maqet qmp SUBCOMMAND myvm ARGS…` as we write it:
/// `qmp --vm myvm SUBCOMMAND ARGS…`.
fn maqet(vm: &Vm, args: &[&str]) -> Output {
    let mut all = vec!["--vm", VM_ID];
    all.extend_from_slice(args);
    qmp_at_home(vm, &all)
}

/// Types a helper command line into the guest's shell, fast.
fn shell_line(vm: &Vm, line: &str) {
    ok(maqet(vm, &["type", "--hold", "10", line]));
}

/// MAQET's key examples: `ctrl c` is one chord that interrupts a running
/// program, `ctrl alt f2` switches consoles, `ctrl u` kills the line, and
/// the `,` form presses chords in turn.
fn maqet_keys(vm: &mut Vm) {
    // maqet qmp keys myvm ctrl c
    shell_line(vm, "echo @@CAT-RUNNING >/dev/ttyS0; cat\r");
    vm.wait_serial("@@CAT-RUNNING", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    ok(maqet(vm, &["keys", "ctrl", "c"]));
    // Had the keys gone one after another, `cat` would still run and
    // read this line; interrupted, it exits with 128 + SIGINT.
    shell_line(vm, "echo @@CAT-ENDED-$? >/dev/ttyS0\r");
    vm.wait_serial("@@CAT-ENDED-130", Duration::from_secs(20));

    // maqet qmp keys myvm ctrl alt f2, then back with ctrl alt f1; a
    // background job reports each switch of the active console (which
    // must exist: opening tty2 makes it).
    shell_line(
        vm,
        ": >/dev/tty2;w(){ until grep -qx $1 /sys/class/tty/tty0/active;do sleep .1;done;\
         echo @@ON-$1;};(w tty2;w tty1)>/dev/ttyS0&\r",
    );
    std::thread::sleep(Duration::from_millis(300));
    ok(maqet(vm, &["keys", "ctrl", "alt", "f2"]));
    vm.wait_serial("@@ON-tty2", Duration::from_secs(20));
    ok(maqet(vm, &["keys", "ctrl", "alt", "f1"]));
    vm.wait_serial("@@ON-tty1", Duration::from_secs(20));

    // maqet qmp keys myvm ctrl u: the typed garbage is gone.
    shell_line(vm, "garbage");
    ok(maqet(vm, &["keys", "ctrl", "u"]));
    shell_line(vm, "echo @@LINE-KILLED >/dev/ttyS0\r");
    vm.wait_serial("@@LINE-KILLED", Duration::from_secs(20));

    // Chords in turn: Ctrl alone, then c, then Shift+a, then Return.
    start_capture(vm, "SEQ");
    ok(maqet(
        vm,
        &["keys", "ctrl", ",", "c", ",", "shift-a", ",", "ret"],
    ));
    assert_eq!(finish_capture(vm, "SEQ"), "cA\n");
}

/// MAQET's `type` examples, and `\r` entering a line.
fn maqet_type(vm: &mut Vm) {
    start_capture(vm, "MAQET-TYPE");
    // maqet qmp type myvm root
    ok(maqet(vm, &["type", "root"]));
    // maqet qmp type myvm "ls -la /home"
    ok(maqet(vm, &["type", "ls -la /home"]));
    // maqet qmp type myvm --hold-time 150 "sensitive-data"
    ok(maqet(vm, &["type", "--hold-time", "150", "sensitive-data"]));
    ok(maqet(vm, &["keys", "ret"]));
    assert_eq!(
        finish_capture(vm, "MAQET-TYPE"),
        "rootls -la /homesensitive-data\n"
    );

    // A carriage return is Return: in text, and as the escape `\r`.
    start_capture(vm, "CR");
    ok(maqet(vm, &["type", "ab\rc\r"]));
    ok(maqet(vm, &["type", "-e", "d\\re\\r"]));
    assert_eq!(finish_capture(vm, "CR"), "ab\nc\nd\ne\n");
    // ...which enters a line in the shell, twice in one text.
    ok(maqet(
        vm,
        &[
            "type",
            "echo @@CR-ONE >/dev/ttyS0\recho @@CR-TWO >/dev/ttyS0\r",
        ],
    ));
    let got = vm.wait_serial("@@CR-TWO", Duration::from_secs(20));
    assert!(
        String::from_utf8_lossy(&got).contains("@@CR-ONE"),
        "{got:?}"
    );
}

/// MAQET's screendump examples: PPM files named relative to where the
/// command runs.
fn maqet_screendump(vm: &Vm) {
    // maqet qmp screendump myvm screenshot.ppm
    ok(maqet(vm, &["screendump", "screenshot.ppm"]));
    // maqet qmp screendump myvm "screen_$(date +%Y%m%d_%H%M%S).ppm"
    let stamp = Command::new("date")
        .arg("+%Y%m%d_%H%M%S")
        .output()
        .expect("run date");
    let stamp = String::from_utf8(stamp.stdout).unwrap();
    let name = format!("screen_{}.ppm", stamp.trim());
    ok(maqet(vm, &["screendump", &name]));
    for file in ["screenshot.ppm", name.as_str()] {
        let bytes = std::fs::read(vm.dir.join(file)).unwrap();
        let img = qmp_vm::Rgb::from_ppm(&bytes).expect("a PPM");
        assert!(img.width >= 640 && img.height >= 400, "{file}");
        assert!(img.colours(3) >= 2, "{file} is blank");
    }
}

/// MAQET's pause and resume.
fn maqet_pause_resume(vm: &Vm) {
    // maqet qmp pause myvm
    ok(maqet(vm, &["pause"]));
    assert_eq!(ok(maqet(vm, &["status"])).trim(), "paused");
    let st = raw(vm, "query-status");
    assert_eq!(
        (&st["status"], &st["running"]),
        (&"paused".into(), &false.into())
    );
    // maqet qmp resume myvm
    ok(maqet(vm, &["resume"]));
    assert_eq!(ok(maqet(vm, &["status"])).trim(), "running");
}

/// MAQET's device-add and device-del examples, with the drive and netdev
/// they name made first.
fn maqet_devices(vm: &Vm) {
    ok(maqet(
        vm,
        &[
            "exec",
            "blockdev-add",
            "--driver",
            "null-co",
            "--node-name",
            "usb-drive",
        ],
    ));
    ok(maqet(
        vm,
        &["exec", "netdev_add", "--type", "user", "--id", "user1"],
    ));
    // maqet qmp device-add myvm usb-storage --device-id usb1 --drive usb-drive
    ok(maqet(
        vm,
        &[
            "device-add",
            "usb-storage",
            "--device-id",
            "usb1",
            "--drive",
            "usb-drive",
        ],
    ));
    // maqet qmp device-add myvm e1000 --device-id net1 --netdev user1
    ok(maqet(
        vm,
        &[
            "device-add",
            "e1000",
            "--device-id",
            "net1",
            "--netdev",
            "user1",
        ],
    ));
    // maqet qmp device-add myvm virtio-serial --device-id serial1
    ok(maqet(
        vm,
        &["device-add", "virtio-serial", "--device-id", "serial1"],
    ));
    // Two more of its common drivers.
    ok(maqet(vm, &["device-add", "usb-kbd", "--device-id", "kbd1"]));
    ok(maqet(
        vm,
        &["device-add", "usb-mouse", "--device-id", "mouse1"],
    ));
    let ls = ok(maqet(vm, &["qom", "ls", "/machine/peripheral"]));
    for (id, kind) in [
        ("usb1", "usb-storage"),
        ("net1", "e1000"),
        ("serial1", "virtio-serial-pci"),
        ("kbd1", "usb-kbd"),
        ("mouse1", "usb-mouse"),
    ] {
        assert!(ls.contains(&format!("{id}  (child<{kind}>)")), "{ls}");
    }
    // The driver properties arrived as properties.
    let prop = |id: &str, name: &str| {
        let path = format!("/machine/peripheral/{id}");
        ok(maqet(vm, &["qom", "get", &path, name]))
            .trim()
            .to_owned()
    };
    assert_eq!(prop("net1", "netdev"), "user1");
    // usb-storage hands its drive to a SCSI disk of its own.
    let block = raw(vm, "query-block");
    assert!(
        block.as_array().unwrap().iter().any(|d| {
            d["inserted"]["node-name"] == "usb-drive"
                && d["qdev"]
                    .as_str()
                    .is_some_and(|q| q.starts_with("/machine/peripheral/usb1/"))
        }),
        "{block}"
    );
    // The guest must have taken the PCI devices before it can give them
    // back.
    std::thread::sleep(Duration::from_millis(1500));
    // maqet qmp device-del myvm usb1, maqet qmp device-del myvm net1
    for id in ["usb1", "net1", "serial1", "kbd1", "mouse1"] {
        ok(maqet(vm, &["device-del", id]));
    }
    let ls = ok(maqet(vm, &["qom", "ls", "/machine/peripheral"]));
    for id in ["usb1", "net1", "serial1", "kbd1", "mouse1"] {
        assert!(!ls.contains(id), "{ls}");
    }
}

/// `qmp --vm myvm exec COMMAND`, MAQET's `maqet qmp myvm COMMAND`, parsed.
fn raw(vm: &Vm, command: &str) -> Value {
    let out = ok(maqet(vm, &["exec", command]));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{command}: {e}: {out}"))
}

/// The `inserted` medium of drive `ide0-cd0`, from `query-block`.
fn cd_medium(vm: &Vm) -> Value {
    let block = raw(vm, "query-block");
    let cd = block
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device"] == "ide0-cd0")
        .unwrap_or_else(|| panic!("no ide0-cd0: {block}"));
    cd["inserted"].clone()
}

/// MAQET's raw commands.
fn maqet_raw(vm: &Vm) {
    // maqet qmp myvm query-status
    assert_eq!(raw(vm, "query-status")["status"], "running");
    // maqet qmp myvm query-block
    assert!(cd_medium(vm).is_null());
    // maqet qmp myvm query-cpus-fast
    assert_eq!(raw(vm, "query-cpus-fast")[0]["cpu-index"], 0);
    // maqet qmp myvm query-pci
    let pci = raw(vm, "query-pci");
    assert!(
        pci[0]["devices"].as_array().is_some_and(|d| !d.is_empty()),
        "{pci}"
    );
    // maqet qmp myvm query-memory-size-summary
    assert_eq!(
        raw(vm, "query-memory-size-summary")["base-memory"],
        256 << 20
    );
    // maqet qmp myvm system_powerdown: the guest has nothing listening
    // for the power button, so it keeps running.
    ok(maqet(vm, &["exec", "system_powerdown"]));
    // maqet qmp myvm system_wakeup: QEMU refuses (not suspended), exit 1.
    let err = fails(maqet(vm, &["exec", "system_wakeup"]));
    assert!(err.contains("GenericError"), "{err}");
    // maqet qmp myvm query-network: QEMU has no such command.
    let err = fails(maqet(vm, &["exec", "query-network"]));
    assert!(err.contains("unknown command `query-network`"), "{err}");

    // maqet qmp myvm blockdev-change-medium --device ide0-cd0 --filename /path/to/new.iso
    let iso = vm.dir.join("new.iso");
    std::fs::write(&iso, vec![0u8; 64 << 10]).unwrap();
    let iso = iso.to_str().unwrap();
    ok(maqet(
        vm,
        &[
            "exec",
            "blockdev-change-medium",
            "--device",
            "ide0-cd0",
            "--filename",
            iso,
        ],
    ));
    assert_eq!(cd_medium(vm)["file"], iso);
    // maqet qmp myvm eject --device ide0-cd0
    ok(maqet(vm, &["exec", "eject", "--device", "ide0-cd0"]));
    assert!(cd_medium(vm).is_null());
    // A typo gets "did you mean" before anything is sent.
    let err = fails(maqet(vm, &["exec", "eject", "--devcie", "ide0-cd0"]));
    assert!(
        err.contains("eject: unknown argument `devcie`; did you mean `device`?"),
        "{err}"
    );
}

/// MAQET's order of words, VM first, is answered with the form to write.
fn maqet_word_order(vm: &Vm) {
    let err = fails(qmp_at_home(vm, &["keys", VM_ID, "ctrl", "c"]));
    assert!(
        err.contains("`myvm` names a VM: give it with --vm, as in `qmp --vm myvm keys ctrl c`"),
        "{err}"
    );
    let err = fails(qmp_at_home(vm, &[VM_ID, "query-status"]));
    assert!(
        err.contains("write `qmp --vm myvm exec query-status`"),
        "{err}"
    );
}

/// MAQET's examples that restart the guest: Ctrl+Alt+Delete held for
/// 200 ms (the kernel reboots at once), and `system_reset`.
fn maqet_reboots(vm: &mut Vm) {
    // maqet qmp keys myvm --hold-time 200 ctrl alt delete
    ok(maqet(
        vm,
        &["keys", "--hold-time", "200", "ctrl", "alt", "delete"],
    ));
    vm.wait_serial("GUEST-READY", Duration::from_secs(60));
    // maqet qmp myvm system_reset
    ok(maqet(vm, &["exec", "system_reset"]));
    vm.wait_serial("GUEST-READY", Duration::from_secs(60));
}

fn guest_suite(rel: Release) {
    // An empty CD-ROM drive `ide0-cd0`, as MAQET's examples have.
    let mut vm = Vm::guest_with(rel, "guest", &["-drive", "if=ide,index=0,media=cdrom"]);
    keys_arrive(&mut vm);
    type_arrives(&mut vm);
    screendump(&vm);
    pci_unplug(&vm);
    name_vm(&vm);
    maqet_keys(&mut vm);
    maqet_type(&mut vm);
    maqet_screendump(&vm);
    maqet_pause_resume(&vm);
    maqet_devices(&vm);
    maqet_raw(&vm);
    maqet_word_order(&vm);
    maqet_reboots(&mut vm);
}

#[test]
fn guest_qemu_7_2() {
    within(Duration::from_secs(300), || guest_suite(Release::V7_2));
}

#[test]
fn guest_qemu_10_0() {
    within(Duration::from_secs(300), || guest_suite(Release::V10_0));
}

#[test]
fn guest_qemu_11_1() {
    within(Duration::from_secs(300), || guest_suite(Release::V11_1));
}
