//! Schema errors with their location and source line.

use std::fmt;

use crate::model::Loc;

/// A schema error: what is wrong and where.
///
/// `Display` renders it the way compilers do: the first line is
/// `path:line:col: message`, then (for errors in included files) the include
/// chain, then the source line with a caret under the column.
///
/// ```text
/// ui.json:12:3: 'data' member 'hold-time' uses unknown type 'itn'
///   in file included from qapi-schema.json:4:1
///    |
/// 12 | { 'command': 'send-key',
///    |   ^
/// ```
///
/// With the `miette` feature (default), the error also implements
/// `miette::Diagnostic`, so tools that render diagnostics with miette get
/// the labelled source too.
///
/// The details are in a boxed [`Diagnostic`], reached through `Deref`
/// (`err.loc`, `err.message`), so that `Result<_, Error>` stays small.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(Box<Diagnostic>);

/// What an [`Error`] says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the problem is.
    pub loc: Loc,
    /// What is wrong, in QEMU's words where QEMU reports the same problem.
    pub message: String,
    /// The definition being checked, e.g. `In struct 'Foo'`.
    pub context: Option<String>,
    /// Where the file holding `loc` was included from, innermost first.
    pub included_from: Vec<Loc>,
    /// The text of the source line at `loc`.
    pub source_line: Option<String>,
    /// Further lines of explanation, e.g. the valid keys.
    pub help: Option<String>,
}

impl Error {
    pub(crate) fn new(loc: Loc, message: impl Into<String>) -> Error {
        Error(Box::new(Diagnostic {
            loc,
            message: message.into(),
            context: None,
            included_from: Vec::new(),
            source_line: None,
            help: None,
        }))
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Error {
        self.help = Some(help.into());
        self
    }

    /// An error not tied to a schema location (e.g. an unreadable root file).
    pub(crate) fn io(path: &str, what: &str, err: &std::io::Error) -> Error {
        Error::new(
            Loc {
                file: path.into(),
                line: 0,
                col: 0,
            },
            format!("can't read {what} '{path}': {}", io_reason(err)),
        )
    }
}

/// The OS's reason text without Rust's "(os error N)" suffix, as QEMU prints.
pub(crate) fn io_reason(err: &std::io::Error) -> String {
    let s = err.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

impl std::ops::Deref for Error {
    type Target = Diagnostic;

    fn deref(&self) -> &Diagnostic {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut Diagnostic {
        &mut self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.loc.line == 0 {
            f.write_str(&self.message)?;
        } else {
            write!(f, "{}: {}", self.loc, self.message)?;
        }
        if let Some(ctx) = &self.context {
            write!(f, "\n  {ctx}")?;
        }
        for inc in &self.included_from {
            write!(f, "\n  in file included from {inc}")?;
        }
        if let Some(help) = &self.help {
            for line in help.lines() {
                write!(f, "\n  {line}")?;
            }
        }
        if let Some(src) = &self.source_line {
            let num = self.loc.line.to_string();
            let pad = " ".repeat(num.len());
            let src = src.replace('\t', "        ");
            let col = (self.loc.col as usize).saturating_sub(1);
            write!(f, "\n{pad} |\n{num} | {src}\n{pad} | {}^", " ".repeat(col))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(feature = "miette")]
impl miette::Diagnostic for Error {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source_line
            .as_ref()
            .map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let src = self.source_line.as_ref()?;
        let col = (self.loc.col as usize).saturating_sub(1).min(src.len());
        Some(Box::new(std::iter::once(miette::LabeledSpan::at_offset(
            col,
            format!("{}:{}", self.loc.file, self.loc.line),
        ))))
    }
}
