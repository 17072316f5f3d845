//! End to end in a real Linux guest, on QEMU 7.2 and 10.0: what `qmp keys`
//! and `qmp type` send arrives in the guest byte for byte (read back on
//! the serial port), screenshots are real PNGs of the screen, and PCI
//! unplug completes only with the guest's help. One booted guest per
//! release runs every step, in order.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Every printable ASCII character, a tab and a newline, and a second
/// line with a tab in the middle.
fn payload() -> String {
    let mut s: String = (0x20u8..0x7f).map(char::from).collect();
    s.push_str("\t\nend\tof payload\n");
    s
}

/// Types (with `qmp type`) a command that copies the console's input to
/// the serial port between two markers, with the serial port raw so
/// nothing is translated.
fn start_capture(vm: &Vm, tag: &str) {
    let line = format!(
        "stty -F /dev/ttyS0 raw -echo; (echo @@{tag}-BEGIN; cat; echo @@{tag}-END) >/dev/ttyS0\n"
    );
    ok(vm.qmp(&["type", "--hold", "10", &line]));
}

/// Ends the capture with Ctrl-D and returns what arrived between the
/// markers.
fn finish_capture(vm: &mut Vm, tag: &str) -> String {
    ok(vm.qmp(&["keys", "ctrl-d"]));
    let end = format!("@@{tag}-END\n");
    let got = vm.wait_serial(&end, Duration::from_secs(30));
    let got = String::from_utf8_lossy(&got).into_owned();
    let begin = format!("@@{tag}-BEGIN\n");
    let start = got.find(&begin).expect("begin marker") + begin.len();
    let stop = got.find(&end).expect("end marker");
    got[start..stop].to_owned()
}

fn keys_arrive(vm: &mut Vm) {
    start_capture(vm, "KEYS");
    let chords: Vec<String> = payload()
        .chars()
        .map(|c| qmp_vm::us_chord(c).expect("typable").join("-"))
        .collect();
    let mut args = vec!["keys", "--hold", "15"];
    args.extend(chords.iter().map(String::as_str));
    ok(vm.qmp(&args));
    assert_eq!(finish_capture(vm, "KEYS"), payload());
}

fn type_arrives(vm: &mut Vm) {
    start_capture(vm, "TYPE");
    let file = vm.dir.join("payload.txt");
    std::fs::write(&file, payload()).unwrap();
    ok(vm.qmp(&["type", "--hold", "15", "--file", file.to_str().unwrap()]));
    assert_eq!(finish_capture(vm, "TYPE"), payload());
    // The same text, given with escapes on the command line.
    start_capture(vm, "ESC");
    ok(vm.qmp(&["type", "-e", "a\\tb\\\\c\\n"]));
    assert_eq!(finish_capture(vm, "ESC"), "a\tb\\c\n");
    // What cannot be typed is refused before anything is sent.
    let err = fails(vm.qmp(&["type", "abc\u{e9}"]));
    assert!(
        err.contains("cannot type '\u{e9}' (U+00E9) at position 3"),
        "{err}"
    );
    let err = fails(vm.qmp(&["keys", "ctrl-alt-dleete"]));
    assert!(
        err.contains("unknown key `dleete`; did you mean `delete`?"),
        "{err}"
    );
}

fn screendump(vm: &Vm) {
    let png_path = vm.dir.join("screen.png");
    let ppm_path = vm.dir.join("screen.ppm");
    let out = ok(vm.qmp(&["screendump", png_path.to_str().unwrap()]));
    assert!(out.contains("png"), "{out}");
    ok(vm.qmp(&["screendump", ppm_path.to_str().unwrap()]));
    let ppm = qmp_vm::Rgb::from_ppm(&std::fs::read(&ppm_path).unwrap()).unwrap();
    let decoder = png::Decoder::new(std::fs::File::open(&png_path).unwrap());
    let mut reader = decoder.read_info().expect("a valid PNG");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).expect("PNG pixels");
    assert_eq!((info.width, info.height), (ppm.width, ppm.height));
    assert!(info.width >= 640 && info.height >= 400, "{info:?}");
    let png_img = qmp_vm::Rgb {
        width: info.width,
        height: info.height,
        pixels: pixels[..info.buffer_size()].to_vec(),
    };
    assert!(png_img.colours(3) >= 2, "the screenshot is blank");
    // --format wins over the extension.
    let forced = vm.dir.join("screen.img");
    let json = ok(vm.qmp(&[
        "--json",
        "screendump",
        "--format",
        "ppm",
        forced.to_str().unwrap(),
    ]));
    assert!(json.contains("\"format\":\"ppm\""), "{json}");
    assert!(std::fs::read(&forced).unwrap().starts_with(b"P6"));
    let err = fails(vm.qmp(&[
        "screendump",
        "--device",
        "nonesuch",
        png_path.to_str().unwrap(),
    ]));
    assert!(err.contains("nonesuch"), "{err}");
}

fn pci_unplug(vm: &Vm) {
    // The guest kernel's ACPI hot-plug driver releases the device.
    ok(vm.qmp(&["device-add", "virtio-net-pci", "--id", "net1"]));
    std::thread::sleep(Duration::from_millis(1500));
    ok(vm.qmp(&["device-del", "net1"]));
    let ls = ok(vm.qmp(&["qom", "ls", "/machine/peripheral"]));
    assert!(!ls.contains("net1"), "{ls}");
    // A paused guest cannot release it: the timeout names the caveat.
    ok(vm.qmp(&["device-add", "virtio-net-pci", "--id", "net2"]));
    std::thread::sleep(Duration::from_millis(1500));
    ok(vm.qmp(&["pause"]));
    let err = fails(vm.qmp(&["device-del", "net2", "--wait", "1"]));
    assert!(err.contains("guest's cooperation"), "{err}");
    ok(vm.qmp(&["resume"]));
    let end = Instant::now() + Duration::from_secs(15);
    while ok(vm.qmp(&["qom", "ls", "/machine/peripheral"])).contains("net2") {
        assert!(Instant::now() < end, "net2 never went after resume");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn guest_suite(rel: Release) {
    let mut vm = Vm::guest(rel, "guest");
    keys_arrive(&mut vm);
    type_arrives(&mut vm);
    screendump(&vm);
    pci_unplug(&vm);
}

#[test]
fn guest_qemu_7_2() {
    within(Duration::from_secs(150), || guest_suite(Release::V7_2));
}

#[test]
fn guest_qemu_10_0() {
    within(Duration::from_secs(150), || guest_suite(Release::V10_0));
}
