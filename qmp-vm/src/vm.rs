//! [`Vm`]: keys, typing, screenshots, run control, hot-plug and QOM on one
//! QMP connection.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use qmp_client::Client;
use qmp_types::EventMessage;
use qmp_types::qmp::commands::DeviceAdd;
use qmp_types::qmp::{Event, EventName, QKeyCode, QapiErrorClass, QmpCommands as _, StatusInfo};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::image::{ImageFormat, Rgb};
use crate::keys::{self, KeyNames};
use crate::schema::SchemaIndex;
use crate::{Error, Result};

/// QEMU's own hold time for `send-key` when none is given.
const QEMU_DEFAULT_HOLD: Duration = Duration::from_millis(100);
/// How long [`Vm::type_text`] holds each key unless told otherwise.
pub const TYPE_HOLD: Duration = Duration::from_millis(20);
/// Extra pause after each chord's release, so that QEMU's input queue
/// (about 50 events deep; overflowing it drops keys) is empty before the
/// next chord.
const CHORD_GAP: Duration = Duration::from_millis(15);
/// How long [`Vm::device_del`] waits for `DEVICE_DELETED` by default.
pub const DEVICE_DEL_TIMEOUT: Duration = Duration::from_secs(10);

/// A VM reached over QMP, with the automation helpers.
///
/// Cheap to clone is not promised; share it behind an `Arc` if needed.
/// The schema of the connected QEMU is loaded once, on first need (key
/// names, argument checking).
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> qmp_vm::Result<()> {
/// let client = qmp_client::Client::connect_unix("/run/user/1000/qmp/vm1.sock").await?;
/// let vm = qmp_vm::Vm::new(client);
/// vm.keys(&["ctrl", "alt", "f2"], None).await?;
/// vm.type_text("root\n", None).await?;
/// vm.screendump("screen.png", &qmp_vm::Screendump::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Vm {
    client: Client,
    schema: OnceCell<Arc<SchemaIndex>>,
    keys: OnceCell<KeyNames>,
}

/// Options of [`Vm::screendump`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Screendump {
    /// The display device's QOM id (default: the primary console).
    pub device: Option<String>,
    /// The head of that device (needs `device`).
    pub head: Option<i64>,
    /// The file format; by default chosen by the extension (PNG unless
    /// `.ppm`).
    pub format: Option<ImageFormat>,
}

impl Screendump {
    /// Options for display `device`.
    pub fn device(mut self, device: impl Into<String>) -> Screendump {
        self.device = Some(device.into());
        self
    }

    /// Options for `head` of the device.
    pub fn head(mut self, head: i64) -> Screendump {
        self.head = Some(head);
        self
    }

    /// Options forcing `format`.
    pub fn format(mut self, format: ImageFormat) -> Screendump {
        self.format = Some(format);
        self
    }
}

/// One property of a QOM object (`qom-list`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct QomProperty {
    /// The property's name.
    pub name: String,
    /// Its type, e.g. `child<container>`, `link<...>`, `bool`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A QOM object and its children, from [`Vm::qom_tree`].
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct QomNode {
    /// The object's canonical path.
    pub path: String,
    /// Its QOM type (from the `child<TYPE>` property that holds it).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its children, sorted by name.
    pub children: Vec<QomNode>,
}

/// The `device_add` for `driver` with `id` and properties given as on
/// QEMU's command line. A `driver`, `bus` or `id` among `props` sets that
/// member (the last one given wins), so no name is sent twice; the others
/// go into `extra` as strings, which QEMU converts as `-device` does.
fn device_add_command(driver: &str, id: Option<&str>, props: &[(&str, &str)]) -> DeviceAdd {
    let mut cmd = DeviceAdd::new(driver);
    cmd.id = id.map(str::to_owned);
    for &(k, v) in props {
        match k {
            "driver" => cmd.driver = v.to_owned(),
            "bus" => cmd.bus = Some(v.to_owned()),
            "id" => cmd.id = Some(v.to_owned()),
            _ => cmd = cmd.with_property(k, v),
        }
    }
    cmd
}

/// Whether HMP's reply `text` is one of the forms QEMU gives errors (see
/// [`Vm::hmp`]).
fn hmp_failed(text: &str) -> bool {
    text.starts_with("Error: ")
        || text.starts_with("unknown command: '")
        || text.lines().any(|l| l.starts_with("Try \"help"))
}

/// The key codes of one chord's words (`ctrl-alt` is two names).
fn resolve_chord(names: &KeyNames, words: &[&str]) -> Result<Vec<QKeyCode>> {
    words
        .iter()
        .flat_map(|w| keys::split_chord(w))
        .map(|k| names.resolve(k))
        .collect()
}

impl Vm {
    /// Automation on `client`: a [`Client`] or a `&Client` (the handle is
    /// shared: both use the same connection).
    pub fn new(client: impl Into<Client>) -> Vm {
        Vm {
            client: client.into(),
            schema: OnceCell::new(),
            keys: OnceCell::new(),
        }
    }

    /// The underlying client, for anything else.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The connected QEMU's schema (`query-qmp-schema`), loaded once.
    ///
    /// # Errors
    ///
    /// Those of the command.
    pub async fn schema(&self) -> Result<Arc<SchemaIndex>> {
        self.schema
            .get_or_try_init(|| async {
                let schema = self.client.load_schema().await?;
                Ok(Arc::new(SchemaIndex::new(schema.entries())))
            })
            .await
            .cloned()
    }

    /// The key names this QEMU's `send-key` accepts, plus aliases.
    ///
    /// # Errors
    ///
    /// Those of [`Vm::schema`]; [`Error::Schema`] if `send-key` has no
    /// `QKeyCode` names.
    pub async fn key_names(&self) -> Result<&KeyNames> {
        self.keys
            .get_or_try_init(|| async { Ok(KeyNames::new(self.schema().await?.key_codes()?)) })
            .await
    }

    /// Presses `keys` together (a chord such as `["ctrl", "alt", "f2"]`)
    /// and releases them after `hold` (QEMU's default, 100 ms, if `None`),
    /// then waits until the release has happened.
    ///
    /// Names are `QKeyCode` values of the connected QEMU or aliases
    /// (`enter`, `space`, `win`, `pgup`, `esc`…), in any case; as in
    /// `qmp keys`, a word may join names with `-` or `+`, so
    /// `["ctrl-alt-f2"]` is the same chord.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownKey`] with close matches, before anything is sent;
    /// QEMU's errors.
    pub async fn keys(&self, keys: &[&str], hold: Option<Duration>) -> Result<()> {
        let names = self.key_names().await?;
        let codes = resolve_chord(names, keys)?;
        self.send_chord(codes, hold).await
    }

    /// Sends each chord of `chords` in turn, as [`Vm::keys`] does, after
    /// checking every name. [`parse_chords`](crate::parse_chords) reads
    /// them from words, as `qmp keys ctrl-c , ret` writes them.
    ///
    /// # Errors
    ///
    /// As for [`Vm::keys`].
    pub async fn key_sequence(&self, chords: &[Vec<&str>], hold: Option<Duration>) -> Result<()> {
        let names = self.key_names().await?;
        let resolved = chords
            .iter()
            .map(|chord| resolve_chord(names, chord))
            .collect::<Result<Vec<_>>>()?;
        for codes in resolved {
            self.send_chord(codes, hold).await?;
        }
        Ok(())
    }

    async fn send_chord(&self, codes: Vec<QKeyCode>, hold: Option<Duration>) -> Result<()> {
        let hold_time = hold.map(|h| i64::try_from(h.as_millis()).unwrap_or(i64::MAX));
        self.client.send_key(codes, hold_time).await?;
        tokio::time::sleep(hold.unwrap_or(QEMU_DEFAULT_HOLD) + CHORD_GAP).await;
        Ok(())
    }

    /// Types `text` on a US keyboard layout: every printable ASCII
    /// character, `\n` and `\r` (Return; `\r\n` is one) and `\t` (Tab),
    /// with Shift where needed.
    /// Each key is held for `hold` ([`TYPE_HOLD`] if `None`).
    ///
    /// # Errors
    ///
    /// [`Error::Untypable`] naming the first character the layout lacks
    /// and its position, before anything is sent; QEMU's errors.
    pub async fn type_text(&self, text: &str, hold: Option<Duration>) -> Result<()> {
        self.type_text_with(text, hold, |_, _| {}).await
    }

    /// As [`Vm::type_text`], calling `progress(typed, total)` after each
    /// character.
    ///
    /// # Errors
    ///
    /// As for [`Vm::type_text`].
    pub async fn type_text_with(
        &self,
        text: &str,
        hold: Option<Duration>,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<()> {
        let chords = keys::text_chords(text)?;
        let hold = Some(hold.unwrap_or(TYPE_HOLD));
        for (i, chord) in chords.iter().enumerate() {
            let codes = chord.iter().map(|&k| QKeyCode::from(k)).collect();
            self.send_chord(codes, hold).await?;
            progress(i + 1, chords.len());
        }
        Ok(())
    }

    /// Takes a screenshot into `path`, as PNG unless the options or a
    /// `.ppm` extension ask for PPM, and returns its size.
    ///
    /// QEMU writes the picture (PPM) to a temporary file next to `path`,
    /// so QEMU must run on this machine and be allowed to write there.
    ///
    /// # Errors
    ///
    /// QEMU's errors (e.g. no such device), [`Error::File`],
    /// [`Error::Image`].
    pub async fn screendump(
        &self,
        path: impl AsRef<Path>,
        options: &Screendump,
    ) -> Result<(u32, u32)> {
        let path = path.as_ref();
        let image = self.screenshot(path, options).await?;
        let format = options
            .format
            .unwrap_or_else(|| ImageFormat::from_path(path));
        let bytes = image.encode(format)?;
        std::fs::write(path, bytes).map_err(|source| Error::File {
            path: path.display().to_string(),
            source,
        })?;
        Ok((image.width, image.height))
    }

    /// Takes a screenshot and returns its pixels; `near` names where the
    /// temporary file goes (its directory).
    ///
    /// # Errors
    ///
    /// As for [`Vm::screendump`].
    pub async fn screenshot(&self, near: impl AsRef<Path>, options: &Screendump) -> Result<Rgb> {
        let near = near.as_ref();
        let file_err = |path: &Path| {
            let path = path.display().to_string();
            move |source| Error::File { path, source }
        };
        let dir = match near.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let dir = std::path::absolute(&dir).map_err(file_err(&dir))?;
        let tmp = dir.join(format!(
            ".qmp-screendump-{}-{}.ppm",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        ));
        // No `format`: QEMU's default, PPM, which every build writes (PNG
        // needs libpng) and which is decoded here for any output format.
        let result = self
            .client
            .screendump(
                tmp.to_string_lossy().into_owned(),
                options.device.clone(),
                options.head,
                None,
            )
            .await;
        let data = result
            .map_err(Error::from)
            .and_then(|_| std::fs::read(&tmp).map_err(file_err(&tmp)));
        let _ = std::fs::remove_file(&tmp);
        Rgb::from_ppm(&data?)
    }

    /// The run state (`query-status`): `status` is a
    /// [`RunState`](qmp_types::qmp::RunState) such as
    /// `RunState::Paused`; `running` says whether the guest's CPUs run.
    ///
    /// # Errors
    ///
    /// QEMU's errors.
    pub async fn status(&self) -> Result<StatusInfo> {
        Ok(self.client.query_status().await?)
    }

    /// Stops the guest's CPUs (`stop`); QEMU emits `STOP`.
    ///
    /// # Errors
    ///
    /// QEMU's errors.
    pub async fn pause(&self) -> Result<()> {
        Ok(self.client.stop().await?)
    }

    /// Resumes the guest (`cont`); QEMU emits `RESUME`.
    ///
    /// # Errors
    ///
    /// QEMU's errors, e.g. when the guest has shut down.
    pub async fn resume(&self) -> Result<()> {
        Ok(self.client.cont().await?)
    }

    /// Presses the ACPI power button (`system_powerdown`); QEMU emits
    /// `POWERDOWN`, and the guest decides what to do.
    ///
    /// # Errors
    ///
    /// QEMU's errors.
    pub async fn powerdown(&self) -> Result<()> {
        Ok(self.client.system_powerdown().await?)
    }

    /// Resets the machine (`system_reset`); QEMU emits `RESET`.
    ///
    /// # Errors
    ///
    /// QEMU's errors.
    pub async fn reset(&self) -> Result<()> {
        Ok(self.client.system_reset().await?)
    }

    /// Wakes a suspended guest (`system_wakeup`).
    ///
    /// # Errors
    ///
    /// QEMU's errors, e.g. when the guest is not suspended (7.2 and
    /// later accept it anyway on some machines).
    pub async fn wakeup(&self) -> Result<()> {
        Ok(self.client.system_wakeup().await?)
    }

    /// Hot-plugs a device (`device_add`). Property values are given as
    /// strings, as on QEMU's command line.
    ///
    /// # Errors
    ///
    /// QEMU's errors.
    pub async fn device_add(
        &self,
        driver: &str,
        id: Option<&str>,
        props: &[(&str, &str)],
    ) -> Result<()> {
        self.client
            .execute(&device_add_command(driver, id, props))
            .await?;
        Ok(())
    }

    /// Unplugs device `id` (`device_del`) and returns once QEMU reports
    /// `DEVICE_DELETED` for it, or fails after `timeout`
    /// ([`DEVICE_DEL_TIMEOUT`] if `None`).
    ///
    /// Some devices (USB, for instance) go at once; others (PCI on most
    /// machines) go only when the guest OS releases them.
    ///
    /// # Errors
    ///
    /// QEMU's errors (no such device…), [`Error::DeviceDelTimeout`] with
    /// the guest-cooperation caveat, [`Error::UnplugRefused`] when QEMU
    /// reports that the guest refused.
    pub async fn device_del(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        let after = timeout.unwrap_or(DEVICE_DEL_TIMEOUT);
        // Subscribed before sending, so the event cannot be missed; the
        // command keeps the client's timeout, the wait gets `after`.
        let untimed = self.client.with_timeout(None);
        let mut events = untimed
            .subscribe_to([EventName::DeviceDeleted, EventName::DeviceUnplugGuestError])
            .typed::<EventMessage<Event>>();
        self.client.device_del(id.to_owned()).await?;
        let path = format!("/machine/peripheral/{id}");
        let ours = |device: &Option<String>, p: &str| device.as_deref() == Some(id) || p == path;
        let wait = events.wait_for(|m| match &m.event {
            Event::DeviceDeleted(e) => ours(&e.device, &e.path),
            Event::DeviceUnplugGuestError(e) => ours(&e.device, &e.path),
            _ => false,
        });
        match tokio::time::timeout(after, wait).await {
            Err(_) => Err(Error::DeviceDelTimeout {
                id: id.to_owned(),
                after,
            }),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(m)) if matches!(m.event, Event::DeviceUnplugGuestError(_)) => {
                Err(Error::UnplugRefused { id: id.to_owned() })
            }
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// The properties of the QOM object at `path` (`qom-list`).
    ///
    /// # Errors
    ///
    /// QEMU's errors (no such object).
    pub async fn qom_ls(&self, path: &str) -> Result<Vec<QomProperty>> {
        let list = self.client.qom_list(path.to_owned()).await?;
        Ok(list
            .into_iter()
            .map(|p| QomProperty {
                name: p.name,
                kind: p.r#type,
            })
            .collect())
    }

    /// The value of `property` of the object at `path` (`qom-get`).
    ///
    /// # Errors
    ///
    /// QEMU's errors.
    pub async fn qom_get(&self, path: &str, property: &str) -> Result<Value> {
        let (path, property) = (path.to_owned(), property.to_owned());
        Ok(self.client.qom_get(path, property).await?)
    }

    /// Sets `property` of the object at `path` (`qom-set`).
    ///
    /// # Errors
    ///
    /// QEMU's errors.
    pub async fn qom_set(&self, path: &str, property: &str, value: Value) -> Result<()> {
        let (path, property) = (path.to_owned(), property.to_owned());
        Ok(self.client.qom_set(path, property, value).await?)
    }

    /// The tree of QOM objects below `path` (following `child<>`
    /// properties, not links).
    ///
    /// # Errors
    ///
    /// QEMU's errors.
    pub async fn qom_tree(&self, path: &str) -> Result<QomNode> {
        let kind = if path == "/" {
            "container".to_owned()
        } else {
            self.qom_get(path, "type")
                .await
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let mut root = QomNode {
            path: path.to_owned(),
            kind,
            children: Vec::new(),
        };
        // Breadth first, one level's qom-list calls in flight together.
        let mut frontier = vec![root.path.clone()];
        let mut found: std::collections::HashMap<String, Vec<QomNode>> = Default::default();
        while !frontier.is_empty() {
            let lists =
                futures_util::future::join_all(frontier.iter().map(|p| self.qom_ls(p))).await;
            let mut next = Vec::new();
            for (parent, list) in frontier.iter().zip(lists) {
                let mut kids: Vec<QomNode> = list?
                    .into_iter()
                    .filter_map(|p| {
                        let ty = p.kind.strip_prefix("child<")?.strip_suffix('>')?;
                        let base = parent.trim_end_matches('/');
                        Some(QomNode {
                            path: format!("{base}/{}", p.name),
                            kind: ty.to_owned(),
                            children: Vec::new(),
                        })
                    })
                    .collect();
                kids.sort_by(|a, b| a.path.cmp(&b.path));
                next.extend(kids.iter().map(|k| k.path.clone()));
                found.insert(parent.clone(), kids);
            }
            frontier = next;
        }
        fn attach(node: &mut QomNode, found: &mut std::collections::HashMap<String, Vec<QomNode>>) {
            if let Some(mut kids) = found.remove(&node.path) {
                for k in &mut kids {
                    attach(k, found);
                }
                node.children = kids;
            }
        }
        attach(&mut root, &mut found);
        Ok(root)
    }

    /// Runs a human monitor (HMP) command through QMP
    /// (`human-monitor-command`) and returns QEMU's text as it is, lines
    /// ending in `\r\n` as HMP writes them; many commands print nothing.
    ///
    /// HMP reports most failures only as text in a successful reply, so
    /// the text is checked for the forms QEMU gives its errors: a reply
    /// whose first line starts with `Error: ` (how HMP prints the error of
    /// the QMP command it wraps: `device_del`, `qom-get`, `qemu-io`,
    /// `object_del`…) or `unknown command: '`, or that has a line
    /// starting with `Try "help` (the argument parser's errors). Other
    /// complaints, worded freely by each command (`drive_del`'s
    /// "Device 'x' not found", `cpu`'s "invalid CPU index"), come back as
    /// text in `Ok`; call
    /// [`human_monitor_command`](qmp_types::qmp::QmpCommands::human_monitor_command)
    /// on [`Vm::client`] for the text with no check at all.
    ///
    /// # Errors
    ///
    /// [`Error::Hmp`] with QEMU's text when the reply has one of the error
    /// forms above; QEMU's QMP errors (a QEMU without
    /// `human-monitor-command`, a lost connection) as [`Error::Client`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(vm: &qmp_vm::Vm) -> qmp_vm::Result<()> {
    /// let version = vm.hmp("info version").await?;
    /// println!("QEMU {}", version.trim_end());
    /// print!("{}", vm.hmp("info mtree -f").await?);
    /// match vm.hmp("device_del nonesuch").await {
    ///     Err(qmp_vm::Error::Hmp { message, .. }) => {
    ///         assert_eq!(message, "Error: Device 'nonesuch' not found")
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    #[doc(alias = "human-monitor-command")]
    pub async fn hmp(&self, command_line: &str) -> Result<String> {
        let text = self
            .client
            .human_monitor_command(command_line, None)
            .await?;
        if hmp_failed(&text) {
            return Err(Error::Hmp {
                command_line: command_line.to_owned(),
                message: text.replace("\r\n", "\n").trim_end_matches('\n').to_owned(),
            });
        }
        Ok(text)
    }

    /// Runs any command, checking non-empty `args` against this QEMU's
    /// schema first.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownCommand`] or [`Error::InvalidArguments`] (nothing
    /// sent), QEMU's errors; an unknown command sent without arguments
    /// comes back from QEMU and is reported as [`Error::UnknownCommand`]
    /// with close matches.
    pub async fn exec(&self, command: &str, args: Value) -> Result<Value> {
        let has_args = args.as_object().is_some_and(|o| !o.is_empty());
        if has_args {
            let schema = self.schema().await?;
            schema.check_arguments(command, &args)?;
        }
        // Raw on purpose: any command of any release passes through,
        // checked against the connected QEMU's schema rather than against
        // the types this build was generated with.
        match self.client.execute_raw(command, args).await {
            Ok(v) => Ok(v),
            Err(qmp_client::Error::Qmp {
                class: QapiErrorClass::CommandNotFound,
                ..
            }) => Err(self.schema().await?.unknown_command(command)),
            Err(qmp_client::Error::Unsupported { .. }) => {
                Err(self.schema().await?.unknown_command(command))
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(driver: &str, id: Option<&str>, props: &[(&str, &str)], expect: &str) {
        let cmd = device_add_command(driver, id, props);
        let got = serde_json::to_string(&cmd).unwrap();
        assert_eq!(got, expect);
    }

    #[test]
    fn hmp_errors() {
        for failed in [
            "Error: Device 'nonesuch' not found\r\n",
            "unknown command: 'info nonesuch'\r\n",
            "invalid char 'n' in expression\r\nTry \"help memsave\" for more information\r\n",
        ] {
            assert!(hmp_failed(failed), "{failed:?}");
        }
        for fine in [
            "",
            "7.2.22Debian 1:7.2+dfsg-7+deb12u18+b3\r\n",
            "VM status: paused\r\n",
            "\"none-machine\"\r\n",
            "line\r\nError: in the middle\r\n",
        ] {
            assert!(!hmp_failed(fine), "{fine:?}");
        }
    }

    #[test]
    fn device_add_arguments() {
        check("usb-tablet", None, &[], r#"{"driver":"usb-tablet"}"#);
        check(
            "usb-tablet",
            Some("tab1"),
            &[("bus", "xhci.0")],
            r#"{"driver":"usb-tablet","bus":"xhci.0","id":"tab1"}"#,
        );
        check(
            "e1000",
            None,
            &[("mac", "52:54:00:12:34:56"), ("romfile", "")],
            r#"{"driver":"e1000","mac":"52:54:00:12:34:56","romfile":""}"#,
        );
        // Members given as properties replace the typed ones, never
        // appearing twice.
        check(
            "e1000",
            Some("a"),
            &[("id", "b"), ("driver", "virtio-net-pci"), ("bus", "pci.0")],
            r#"{"driver":"virtio-net-pci","bus":"pci.0","id":"b"}"#,
        );
    }
}
