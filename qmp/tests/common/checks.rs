//! The end-to-end checks in a real guest that every way of reaching its
//! monitor must pass (`qmp --socket`, `qmp --libvirt … --domain`): keys
//! and typing read back on the serial port, screenshots, PCI unplug.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use super::{fails, ok};

/// A booted test guest: how to run `qmp` against it and read its first
/// serial port.
pub trait Guest {
    /// Runs `qmp` with the options that reach this guest, then `args`.
    fn qmp(&self, args: &[&str]) -> Output;
    /// Reads the serial port until `marker` has been seen; returns all
    /// bytes read.
    fn wait_serial(&mut self, marker: &str, limit: Duration) -> Vec<u8>;
    /// A private directory for files the checks write.
    fn scratch(&self) -> &Path;
}

impl Guest for super::Vm {
    fn qmp(&self, args: &[&str]) -> Output {
        super::Vm::qmp(self, args)
    }
    fn wait_serial(&mut self, marker: &str, limit: Duration) -> Vec<u8> {
        super::Vm::wait_serial(self, marker, limit)
    }
    fn scratch(&self) -> &Path {
        &self.dir.path
    }
}

/// Every printable ASCII character, a tab and a newline, and a second
/// line with a tab in the middle.
pub fn payload() -> String {
    let mut s: String = (0x20u8..0x7f).map(char::from).collect();
    s.push_str("\t\nend\tof payload\n");
    s
}

/// Types (with `qmp type`) a command that copies the console's input to
/// the serial port between two markers, with the serial port raw so
/// nothing is translated.
pub fn start_capture(vm: &impl Guest, tag: &str) {
    let line = format!(
        "stty -F /dev/ttyS0 raw -echo; (echo @@{tag}-BEGIN; cat; echo @@{tag}-END) >/dev/ttyS0\n"
    );
    ok(vm.qmp(&["type", "--hold", "10", &line]));
}

/// Ends the capture with Ctrl-D and returns what arrived between the
/// markers. What was typed must end with a newline (else Ctrl-D only
/// hands `cat` the unfinished line).
pub fn finish_capture(vm: &mut impl Guest, tag: &str) -> String {
    ok(vm.qmp(&["keys", "ctrl", "d"]));
    let end = format!("@@{tag}-END\n");
    let got = vm.wait_serial(&end, Duration::from_secs(30));
    let got = String::from_utf8_lossy(&got).into_owned();
    let begin = format!("@@{tag}-BEGIN\n");
    let start = got.find(&begin).expect("begin marker") + begin.len();
    let stop = got.find(&end).expect("end marker");
    got[start..stop].to_owned()
}

pub fn keys_arrive(vm: &mut impl Guest) {
    start_capture(vm, "KEYS");
    // One chord per character, pressed in turn: `shift-a , b , …`.
    let chords: Vec<String> = payload()
        .chars()
        .map(|c| qmp_vm::us_chord(c).expect("typable").join("-"))
        .collect();
    let mut args = vec!["keys", "--hold", "15"];
    for (i, chord) in chords.iter().enumerate() {
        if i > 0 {
            args.push(",");
        }
        args.push(chord);
    }
    ok(vm.qmp(&args));
    assert_eq!(finish_capture(vm, "KEYS"), payload());
}

pub fn type_arrives(vm: &mut impl Guest) {
    start_capture(vm, "TYPE");
    let file = vm.scratch().join("payload.txt");
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

pub fn screendump(vm: &impl Guest) {
    let png_path = vm.scratch().join("screen.png");
    let ppm_path = vm.scratch().join("screen.ppm");
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
    let forced = vm.scratch().join("screen.img");
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

pub fn pci_unplug(vm: &impl Guest) {
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
