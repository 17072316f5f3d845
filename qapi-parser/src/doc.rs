//! Documentation comments (`##` blocks) as structured data.

use serde::Serialize;

use crate::model::Loc;

/// A documentation comment.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Doc {
    /// Where the comment starts (its opening `##`).
    pub loc: Loc,
    /// The documented definition (`@NAME:` on the first line), or `None` for
    /// free-form documentation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// The text before the member descriptions.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Member descriptions (`@member: text`), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<DocItem>,
    /// Feature descriptions (after `Features:`), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<DocItem>,
    /// Sections after the member descriptions, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<Section>,
    /// Examples, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<Example>,
}

impl Doc {
    /// The text of the `Since:` section, trimmed (e.g. `"1.3"`).
    pub fn since(&self) -> Option<&str> {
        self.sections
            .iter()
            .find(|s| s.kind == SectionKind::Since)
            .map(|s| s.text.trim())
    }

    /// The description of a member.
    pub fn member(&self, name: &str) -> Option<&DocItem> {
        self.members.iter().find(|m| m.name == name)
    }
}

impl Default for Loc {
    fn default() -> Loc {
        Loc {
            file: String::new(),
            line: 0,
            col: 0,
        }
    }
}

/// The description of one member or feature.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DocItem {
    /// The member or feature name.
    pub name: String,
    /// Its description (may be empty).
    pub text: String,
    /// Where the `@name:` line is.
    pub loc: Loc,
}

/// The kind of a documentation section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SectionKind {
    /// Untagged text.
    Plain,
    /// `Returns:`.
    Returns,
    /// `Errors:`.
    Errors,
    /// `Since:`.
    Since,
    /// `TODO:`.
    Todo,
    /// `Note:` / `Notes:` (older releases) or a `.. note::` block.
    Note,
    /// `Example:` / `Examples:` (older releases) or a `.. qmp-example::`
    /// block; its messages are also in [`Doc::examples`].
    Example,
}

/// A section of a documentation comment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Section {
    /// What kind of section it is.
    pub kind: SectionKind,
    /// The section text, tag removed, indentation normalised.
    pub text: String,
    /// Where the section starts.
    pub loc: Loc,
}

/// An example exchange of QMP messages.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Example {
    /// The example's title, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The messages, in order.
    pub messages: Vec<ExampleMessage>,
    /// Where the example starts.
    pub loc: Loc,
}

/// Which way an example message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// `->`: client to QEMU.
    Send,
    /// `<-`: QEMU to client.
    Receive,
}

/// One message of an example.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExampleMessage {
    /// `->` or `<-`.
    pub direction: Direction,
    /// The message text as written (JSON, possibly with `...` elisions).
    pub json: String,
    /// Where the message starts.
    pub loc: Loc,
}
