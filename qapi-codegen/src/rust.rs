//! Rust source for a merged model.
//!
//! [`generate`] writes one module's worth of items for one protocol:
//!
//! - a struct per QAPI struct (`#[non_exhaustive]`, `new` with the
//!   required members, `with_*` for the optional ones);
//! - an enum per QAPI enum, with an `Unknown` variant that keeps values
//!   this build does not know;
//! - a union becomes an enum of its branches tagged by the discriminator
//!   (or, if its base has more members, a struct of those members plus that
//!   enum, flattened); branches that only wrap a `data` member hold its
//!   value directly;
//! - an alternate becomes an enum decoded by JSON type, as QEMU decides;
//! - a struct per command implementing `Command`, and one method per
//!   command on an extension trait;
//! - one `Event` enum with a payload per event.
//!
//! Docs state facts only: kind, wire name, releases, condition, a link to
//! QEMU's reference and the examples' JSON.

use std::collections::{BTreeSet, HashMap, HashSet};

use proc_macro2::{Ident, Span as PmSpan, TokenStream};
use qapi_parser::model::{
    AlternateType, Builtin, Entity, EnumType, Feature, JsonType, Member, ObjectType, TypeRef,
};
use quote::{format_ident, quote};

use crate::merge::{Api, Def, Span};
use crate::naming::{
    self, branch_enum_name, command_type_name, event_name, field_name, method_name, type_name,
    variant_name,
};

/// Which program's schema is generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// QMP (`qemu-system-*`, and the storage daemon's subset).
    Qmp,
    /// The guest agent.
    GuestAgent,
}

/// A trait with methods for a subset of the commands (the storage
/// daemon's).
#[derive(Clone, Debug)]
pub struct Subset {
    /// The trait's name, e.g. `StorageDaemonCommands`.
    pub trait_name: String,
    /// The const listing the subset's wire names.
    pub const_name: String,
    /// What the subset is, for the docs: e.g. `qemu-storage-daemon`.
    pub what: String,
    /// The commands' wire names.
    pub commands: BTreeSet<String>,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct Config {
    /// The protocol.
    pub protocol: Protocol,
    /// The path of the runtime crate in generated code, e.g. `::qmp_types`.
    pub krate: String,
    /// The extension trait with one method per command, if wanted.
    pub commands_trait: Option<String>,
    /// Extra traits for subsets of the commands.
    pub subsets: Vec<Subset>,
    /// The cargo feature that `unstable` members and commands need.
    pub unstable_feature: Option<String>,
    /// A hidden `macro_rules!` listing `(wire name, type)` of every command,
    /// for tests; must be unique in the crate.
    pub commands_macro: Option<String>,
    /// Whether the build enables [`Config::unstable_feature`]: the macro of
    /// [`Config::commands_macro`] then lists unstable commands too.
    pub unstable_enabled: bool,
    /// The path of the generated module inside the runtime crate (`qmp`),
    /// for the paths in that macro.
    pub module: String,
    /// QEMU's own documentation by definition name, to put its prose into
    /// the generated docs. For reading on one's own machine only: QEMU's
    /// prose must not enter the repository, so committed and compiled
    /// outputs never set it.
    pub local_docs: Option<std::collections::HashMap<String, qapi_parser::doc::Doc>>,
}

/// Generates the items of `api` as Rust source, unformatted: what a build
/// script writes for the compiler, which does not need layout. [`pretty`]
/// lays it out for people.
pub fn generate(api: &Api, config: &Config) -> String {
    source_lines(Gen::new(api, api, config).file())
}

/// The tokens as text with a line per item, statement and attribute.
/// `TokenStream::to_string` writes one line, and the compiler quotes the
/// whole line of generated code in every note that points into it.
fn source_lines(tokens: TokenStream) -> String {
    fn write(tokens: TokenStream, out: &mut String) {
        let mut after_hash = false;
        for tt in tokens {
            let hash = matches!(&tt, proc_macro2::TokenTree::Punct(p) if p.as_char() == '#');
            match tt {
                proc_macro2::TokenTree::Group(g) => {
                    let (open, close) = match g.delimiter() {
                        proc_macro2::Delimiter::Parenthesis => ("(", ")"),
                        proc_macro2::Delimiter::Brace => ("{", "}"),
                        proc_macro2::Delimiter::Bracket => ("[", "]"),
                        proc_macro2::Delimiter::None => ("", ""),
                    };
                    out.push_str(open);
                    if g.delimiter() == proc_macro2::Delimiter::Brace {
                        out.push('\n');
                    }
                    write(g.stream(), out);
                    out.push_str(close);
                    let ends_line = g.delimiter() == proc_macro2::Delimiter::Brace
                        || (after_hash && g.delimiter() == proc_macro2::Delimiter::Bracket);
                    out.push(if ends_line { '\n' } else { ' ' });
                }
                proc_macro2::TokenTree::Punct(p) => {
                    out.push(p.as_char());
                    if p.as_char() == ';' {
                        out.push('\n');
                    } else if p.spacing() == proc_macro2::Spacing::Alone {
                        out.push(' ');
                    }
                }
                proc_macro2::TokenTree::Ident(i) => {
                    out.push_str(&i.to_string());
                    out.push(' ');
                }
                proc_macro2::TokenTree::Literal(l) => {
                    out.push_str(&l.to_string());
                    out.push(' ');
                }
            }
            after_hash = hash;
        }
    }
    let mut out = String::new();
    write(tokens, &mut out);
    out
}

/// Every name the generator gives `api`'s definitions with `config`, by
/// scope: what [`naming::clashes`] checks and `cargo xtask gen --diff`
/// compares across releases. `module` is the path the scopes start with
/// (`qmp`).
pub fn names(api: &Api, config: &Config) -> Vec<naming::Name> {
    Gen::new(api, api, config).names()
}

/// Like [`generate`] for `selected`, a subset of `full` ([`Api::select_modules`]):
/// names are chosen over `full`, so an item is named the same whichever
/// subset a build selects.
pub fn generate_selected(full: &Api, selected: &Api, config: &Config) -> String {
    source_lines(Gen::new(full, selected, config).file())
}

/// Lays out generated source for people (`prettyplease`, then a blank line
/// between items); doc attributes become `///` comments. Needs the
/// `pretty` feature, which build scripts leave off: formatting costs a
/// user's build time and only humans read the result.
///
/// # Errors
/// If `source` does not parse as a Rust file (a generator bug).
#[cfg(feature = "pretty")]
pub fn pretty(source: &str) -> Result<String, String> {
    // Line comments (the "generated by" header) are not tokens: keep the
    // leading ones as they are.
    let body_at = source
        .lines()
        .take_while(|l| l.starts_with("//") || l.is_empty())
        .map(|l| l.len() + 1)
        .sum::<usize>()
        .min(source.len());
    let (header, body) = source.split_at(body_at);
    let file = syn::parse_file(body).map_err(|e| format!("generated code does not parse: {e}"))?;
    Ok(format!(
        "{header}{}",
        space_items(&prettyplease::unparse(&file))
    ))
}

#[cfg(feature = "pretty")]
/// Puts a blank line between items, as a person would: after each closing
/// brace of an item or associated item that is followed by another one.
fn space_items(code: &str) -> String {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = String::with_capacity(code.len() + lines.len());
    for (i, line) in lines.iter().enumerate() {
        out.push_str(line);
        out.push('\n');
        let closes = matches!(*line, "}" | "    }" | "};")
            || (line.starts_with("pub const ") && line.ends_with(';'));
        if let Some(next) = lines.get(i + 1) {
            let indent = line.len() - line.trim_start().len();
            let next_indent = next.len() - next.trim_start().len();
            if closes
                && next_indent == indent
                && !next.trim_start().starts_with('}')
                && !next.is_empty()
            {
                out.push('\n');
            }
        }
    }
    out
}

/// An identifier from a possibly raw (`r#type`) name.
fn ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, PmSpan::call_site()),
        None => Ident::new(name, PmSpan::call_site()),
    }
}

/// `#[doc = ...]` attributes, one per line.
fn doc_attrs(lines: &[String]) -> TokenStream {
    let lines = lines.iter().map(|l| {
        let l = if l.is_empty() {
            String::new()
        } else {
            format!(" {l}")
        };
        quote!(#[doc = #l])
    });
    quote!(#(#lines)*)
}

fn has(features: &[Feature], name: &str) -> bool {
    features.iter().any(|f| f.name == name)
}

/// A struct field about to be generated.
struct Field {
    wire: String,
    /// An optional member whose value may be JSON `null`: `null` decodes
    /// as `Some`, not as absent.
    nullable: bool,
    /// Starts as `Default::default()` in `new` (extra arguments).
    default_init: bool,
    ident: String,
    /// The type without `Option`/`Box`.
    ty: TokenStream,
    /// How constructors and setters take it.
    conv: Conv,
    optional: bool,
    boxed: bool,
    deprecated: bool,
    unstable: bool,
    doc: Vec<String>,
}

/// How a constructor, setter or method takes a value for a field.
#[derive(Clone)]
enum Conv {
    /// As its type.
    Plain,
    /// `impl Into<String>`: a `&str` or a `String`.
    Str,
    /// `impl IntoIterator<Item = impl Into<T>>`: an array, a `Vec`, an
    /// iterator of anything that converts (`[QKeyCode::Ctrl]` for keys).
    List(TokenStream),
}

impl Field {
    /// The parameter type a constructor or method takes for the field and
    /// the expression that turns parameter `id` into the field's type
    /// (without `Option`/`Box`).
    fn param(&self) -> (TokenStream, TokenStream) {
        let id = self.ident();
        let ty = &self.ty;
        match &self.conv {
            Conv::Plain => (quote!(#ty), quote!(#id)),
            Conv::Str => (quote!(impl Into<String>), quote!(#id.into())),
            Conv::List(e) => (
                quote!(impl IntoIterator<Item = impl Into<#e>>),
                quote!(#id.into_iter().map(Into::into).collect()),
            ),
        }
    }

    fn ident(&self) -> Ident {
        ident(&self.ident)
    }

    /// The field's full type.
    fn full_ty(&self) -> TokenStream {
        let ty = &self.ty;
        let ty = if self.boxed {
            quote!(Box<#ty>)
        } else {
            ty.clone()
        };
        if self.optional {
            quote!(Option<#ty>)
        } else {
            ty
        }
    }

    /// `value`, boxed if the field is.
    fn wrap(&self, value: TokenStream) -> TokenStream {
        if self.boxed {
            quote!(Box::new(#value))
        } else {
            value
        }
    }
}

/// How a union branch carries its members.
enum Payload {
    /// The discriminator value has no branch: no members.
    Unit,
    /// A branch type; its members sit beside the discriminator.
    Object(TokenStream),
    /// A branch type with just a `data` member: the variant holds its value.
    Wrapped(TokenStream),
}

struct Gen<'a> {
    api: &'a Api,
    cfg: &'a Config,
    krate: TokenStream,
    /// QAPI type name to Rust name.
    types: HashMap<String, String>,
    /// Command wire name to Rust type name.
    commands: HashMap<String, String>,
    /// Event wire name to payload struct name (events with members).
    events: HashMap<String, String>,
    /// Union name to the name of its branch enum, where the union is a
    /// struct of base members plus that enum.
    branch_enums: HashMap<String, String>,
    /// Set while emitting the items of a submodule (`commands`, `events`):
    /// type references then go through `super::`, since a command may be
    /// named like a type (`DriveBackup`).
    in_submodule: std::cell::Cell<bool>,
}

impl<'a> Gen<'a> {
    /// Names every item of `full`, then emits those of `api`.
    fn new(full: &'a Api, api: &'a Api, cfg: &'a Config) -> Gen<'a> {
        let krate = cfg.krate.parse().expect("crate path parses");
        let mut g = Gen {
            api: full,
            cfg,
            krate,
            types: HashMap::new(),
            commands: HashMap::new(),
            events: HashMap::new(),
            branch_enums: HashMap::new(),
            in_submodule: std::cell::Cell::new(false),
        };
        for d in &api.defs {
            let info = d.entity.info();
            match &d.entity {
                Entity::Struct(_) | Entity::Union(_) | Entity::Enum(_) | Entity::Alternate(_)
                    if !info.implicit =>
                {
                    g.types.insert(info.name.clone(), type_name(&info.name));
                }
                Entity::Command(c) => {
                    g.commands
                        .insert(c.info.name.clone(), command_type_name(&c.info.name));
                }
                Entity::Event(e)
                    if g.event_payload_members(e.args.as_deref(), e.boxed)
                        .is_some() =>
                {
                    g.events
                        .insert(e.info.name.clone(), event_name(&e.info.name));
                }
                _ => {}
            }
            if let Entity::Union(o) = &d.entity
                && !info_implicit(d)
                && !g.union_base(o).is_empty()
            {
                g.branch_enums
                    .insert(o.info.name.clone(), branch_enum_name(&o.info.name));
            }
        }
        g.api = api;
        g
    }

    /// See [`names`].
    fn names(&self) -> Vec<naming::Name> {
        let module = &self.cfg.module;
        let mut out = Vec::new();
        let mut push = |scope: String, wire: &str, rust: &str| {
            out.push(naming::Name {
                scope,
                wire: wire.to_owned(),
                rust: rust.to_owned(),
            });
        };
        // Fixed names of the module.
        for fixed in [
            "Event",
            "EventName",
            naming::COMMANDS_MODULE,
            naming::EVENTS_MODULE,
        ]
        .into_iter()
        .chain(self.cfg.commands_trait.as_deref())
        .chain(self.cfg.subsets.iter().map(|s| s.trait_name.as_str()))
        .chain(self.cfg.subsets.iter().map(|s| s.const_name.as_str()))
        {
            push(module.clone(), "", fixed);
        }
        let fields = |fs: &[Field], scope: &str, push: &mut dyn FnMut(String, &str, &str)| {
            for f in fs {
                let wire = if f.wire.is_empty() { "" } else { &f.wire };
                push(scope.to_owned(), wire, &f.ident);
            }
        };
        push(format!("{module}::Event"), "", naming::CATCH_ALL);
        for d in &self.api.defs {
            let info = d.entity.info();
            match &d.entity {
                Entity::Struct(o) if !info.implicit => {
                    let scope = format!("{module}::{}", self.types[&info.name]);
                    push(module.clone(), &info.name, &self.types[&info.name]);
                    let ms = self.api.all_members(&o.info.name);
                    fields(
                        &self.fields(&ms, Some(&o.info.name), None),
                        &scope,
                        &mut push,
                    );
                }
                Entity::Union(o) if !info.implicit => {
                    push(module.clone(), &info.name, &self.types[&info.name]);
                    let vs = o.variants.as_ref().expect("unions have branches");
                    let enum_name = match self.branch_enums.get(&info.name) {
                        Some(b) => {
                            push(module.clone(), &format!("{} (branches)", info.name), b);
                            let scope = format!("{module}::{}", self.types[&info.name]);
                            let base = self.union_base(o);
                            fields(
                                &self.fields(&base, Some(&info.name), None),
                                &scope,
                                &mut push,
                            );
                            push(scope, &vs.discriminator, &field_name(&vs.discriminator));
                            b.clone()
                        }
                        None => self.types[&info.name].clone(),
                    };
                    let scope = format!("{module}::{enum_name}");
                    push(scope.clone(), "", naming::CATCH_ALL);
                    let values: Vec<String> = match self.api.get(&vs.tag_type).map(|d| &d.entity) {
                        Some(Entity::Enum(e)) => e.values.iter().map(|v| v.name.clone()).collect(),
                        _ => vs.variants.iter().map(|v| v.name.clone()).collect(),
                    };
                    for v in &values {
                        push(scope.clone(), v, &variant_name(v));
                    }
                }
                Entity::Enum(e) if !info.implicit => {
                    push(module.clone(), &info.name, &self.types[&info.name]);
                    let scope = format!("{module}::{}", self.types[&info.name]);
                    push(scope.clone(), "", naming::CATCH_ALL);
                    for v in &e.values {
                        push(scope.clone(), &v.name, &variant_name(&v.name));
                    }
                }
                Entity::Alternate(a) if !info.implicit => {
                    push(module.clone(), &info.name, &self.types[&info.name]);
                    let scope = format!("{module}::{}", self.types[&info.name]);
                    push(scope.clone(), "", naming::CATCH_ALL);
                    for b in &a.branches {
                        push(scope.clone(), &b.name, &variant_name(&b.name));
                    }
                }
                Entity::Command(c) => {
                    let ty = &self.commands[&info.name];
                    push(
                        format!("{module}::{}", naming::COMMANDS_MODULE),
                        &info.name,
                        ty,
                    );
                    for t in self.cfg.commands_trait.iter() {
                        push(
                            format!("{module}::{t}"),
                            &info.name,
                            &method_name(&info.name),
                        );
                    }
                    for s in &self.cfg.subsets {
                        if s.commands.contains(&info.name) {
                            let scope = format!("{module}::{}", s.trait_name);
                            push(scope, &info.name, &method_name(&info.name));
                        }
                    }
                    if let CommandArgs::Members(ms) = self.command_args(d) {
                        let mut fs = self.fields(&ms, None, None);
                        if !c.gen_code {
                            fs.push(extra_field());
                        }
                        let scope = format!("{module}::{}::{ty}", naming::COMMANDS_MODULE);
                        fields(&fs, &scope, &mut push);
                    }
                }
                Entity::Event(e) => {
                    push(
                        format!("{module}::Event"),
                        &info.name,
                        &event_name(&info.name),
                    );
                    push(
                        format!("{module}::EventName"),
                        &info.name,
                        &event_name(&info.name),
                    );
                    if let Some(ms) = self.event_payload_members(e.args.as_deref(), e.boxed) {
                        let ty = &self.events[&info.name];
                        push(
                            format!("{module}::{}", naming::EVENTS_MODULE),
                            &info.name,
                            ty,
                        );
                        let scope = format!("{module}::{}::{ty}", naming::EVENTS_MODULE);
                        fields(&self.fields(&ms, None, None), &scope, &mut push);
                    }
                }
                _ => {}
            }
        }
        // The traits' own methods.
        for t in self
            .cfg
            .commands_trait
            .iter()
            .chain(self.cfg.subsets.iter().map(|s| &s.trait_name))
        {
            push(format!("{module}::{t}"), "", "execute");
        }
        out
    }

    /// The members an event's payload struct gets, if the event has one of
    /// its own (implicit or named non-boxed members); `None` if it has no
    /// data or its data is a named type used as is.
    fn event_payload_members(&self, args: Option<&str>, boxed: bool) -> Option<Vec<&'a Member>> {
        let args = args?;
        let d = self.api.get(args)?;
        if boxed || !d.entity.info().implicit {
            return None;
        }
        let ms = self.api.all_members(args);
        (!ms.is_empty()).then_some(ms)
    }

    fn file(&self) -> TokenStream {
        let mut items = Vec::new();
        for d in &self.api.defs {
            if info_implicit(d) {
                continue;
            }
            items.push(match &d.entity {
                Entity::Struct(o) => self.named_struct(d, o),
                Entity::Union(o) => self.union(d, o),
                Entity::Enum(e) => self.enumeration(d, e),
                Entity::Alternate(a) => self.alternate(d, a),
                Entity::Command(_) | Entity::Event(_) => continue,
            });
        }
        let commands_mod = format_ident!("{}", naming::COMMANDS_MODULE);
        self.in_submodule.set(true);
        let commands: Vec<TokenStream> = self
            .api
            .defs
            .iter()
            .filter(|d| matches!(d.entity, Entity::Command(_)))
            .map(|d| self.command(d))
            .collect();
        self.in_submodule.set(false);
        items.push(quote! {
            /// One type per command: its arguments, sent with `execute`.
            ///
            /// Commands have a namespace of their own, as in QEMU, so a
            /// command never takes the name of a type (`drive-backup` and
            /// the type `DriveBackup`).
            pub mod #commands_mod {
                #[allow(unused_imports)]
                use super::*;
                #(#commands)*
            }
        });
        items.push(self.events());
        if let Some(t) = &self.cfg.commands_trait {
            let all: BTreeSet<String> = self
                .commands
                .keys()
                .filter(|c| self.api.get(c).is_some())
                .cloned()
                .collect();
            let doc = match self.cfg.protocol {
                Protocol::Qmp => "QMP",
                Protocol::GuestAgent => "guest agent",
            };
            items.push(self.commands_trait(t, &all, doc));
        }
        for s in &self.cfg.subsets {
            items.push(self.commands_trait(&s.trait_name, &s.commands, &s.what));
            let name = format_ident!("{}", s.const_name);
            let list = s.commands.iter();
            let doc = doc_attrs(&[format!("The wire names of the commands `{}` has.", s.what)]);
            items.push(quote! {
                #doc
                pub const #name: &[&str] = &[#(#list),*];
            });
        }
        if let Some(m) = &self.cfg.commands_macro {
            items.push(self.commands_macro(m));
        }
        quote!(#(#items)*)
    }

    // ---- docs ----------------------------------------------------------

    fn anchor_kind(e: &Entity) -> &'static str {
        match e {
            Entity::Struct(_) | Entity::Union(_) => "object",
            Entity::Enum(_) => "enum",
            Entity::Alternate(_) => "alternate",
            Entity::Command(_) => "command",
            Entity::Event(_) => "event",
        }
    }

    fn span_text(&self, span: Span) -> String {
        if span.first == self.api.oldest() && span.last == self.api.newest() {
            format!(
                "in every supported release ({} to {})",
                span.first, span.last
            )
        } else if span.first == span.last {
            format!("only in QEMU {} of the supported releases", span.first)
        } else {
            format!(
                "in QEMU {} to {} of the supported releases",
                span.first, span.last
            )
        }
    }

    /// The doc lines of a definition.
    fn def_doc(&self, d: &Def, what: &str) -> Vec<String> {
        let info = d.entity.info();
        let proto = match self.cfg.protocol {
            Protocol::Qmp => "QMP",
            Protocol::GuestAgent => "Guest agent",
        };
        let kind = match &d.entity {
            Entity::Struct(_) => "struct",
            Entity::Union(_) => "union",
            Entity::Enum(_) => "enum",
            Entity::Alternate(_) => "alternate",
            Entity::Command(_) => "command",
            Entity::Event(_) => "event",
        };
        let mut lines = vec![
            format!("{proto} {kind} `{}`{what}.", info.name),
            String::new(),
        ];
        if let Some(doc) = self.local_doc(&info.name) {
            use qapi_parser::doc::SectionKind as K;
            let sections = doc.sections.iter().filter_map(|s| {
                let label = match s.kind {
                    K::Plain => "",
                    K::Returns => "**Returns:** ",
                    K::Errors => "**Errors:** ",
                    K::Note => "**Note:** ",
                    K::Todo => "**TODO:** ",
                    // Shown below from the facts, like in normal builds.
                    K::Since | K::Example => return None,
                };
                Some(format!("{label}{}", s.text.trim()))
            });
            for text in std::iter::once(doc.body.trim().to_owned()).chain(sections) {
                if !text.is_empty() {
                    lines.extend(text.lines().map(str::to_owned));
                    lines.push(String::new());
                }
            }
        }
        let since = match &d.since {
            Some(s) => format!("Since QEMU {s}; "),
            None => String::new(),
        };
        let mut s = since + &self.span_text(d.span);
        if let Some(first) = s.get(..1) {
            s = first.to_uppercase() + &s[1..];
        }
        lines.push(format!("{s}."));
        if let Some(c) = &info.cond {
            lines.push(format!("Only where QEMU was built with `{c}`."));
        }
        if info.has_feature("deprecated") {
            lines.push("Deprecated by QEMU.".into());
        }
        if info.has_feature("unstable") {
            lines.push("Unstable: QEMU may change or drop it.".into());
        }
        let (page, tag) = match self.cfg.protocol {
            Protocol::Qmp => ("qemu-qmp-ref", "QMP"),
            Protocol::GuestAgent => ("qemu-ga-ref", "QGA"),
        };
        let module = d.module.as_deref().unwrap_or("qapi-schema");
        lines.push(String::new());
        lines.push(format!(
            "[QEMU reference](https://www.qemu.org/docs/master/interop/{page}.html#{}-{tag}-{module}.{})",
            Self::anchor_kind(&d.entity),
            info.name
        ));
        if !d.examples.is_empty() {
            lines.push(String::new());
            lines.push("# Examples".into());
            for ex in &d.examples {
                lines.push(String::new());
                lines.push("```json".into());
                for m in ex {
                    for (i, l) in m.json.lines().enumerate() {
                        if i == 0 {
                            lines.push(format!("{} {l}", m.dir));
                        } else {
                            lines.push(format!("   {l}"));
                        }
                    }
                }
                lines.push("```".into());
            }
        }
        lines
    }

    /// The doc line of a member, value or branch of `d`.
    fn part_doc(&self, d: Option<&Def>, kind: &str, wire: &str, extra: &str) -> Vec<String> {
        let mut s = format!("{kind} `{wire}`{extra}");
        if let Some(d) = d {
            if let Some(since) = d.part_since.get(wire) {
                s += &format!("; since QEMU {since}");
            }
            if let Some(span) = d.parts.get(wire)
                && *span != d.span
            {
                s += &format!("; {}", self.span_text(*span));
            }
            // A member whose type changed: say what each release takes, so
            // that a caller of an older QEMU knows which form to send.
            let args = match &d.entity {
                Entity::Command(c) => c.args.as_deref(),
                Entity::Event(e) => e.args.as_deref(),
                _ => None,
            };
            let types = d
                .member_types
                .get(wire)
                .or_else(|| self.api.get(args?)?.member_types.get(wire));
            if let Some(types) = types {
                let each: Vec<String> = types
                    .iter()
                    .map(|(t, span)| format!("`{t}` {}", self.span_text(*span)))
                    .collect();
                s += &format!("; QAPI type {}", each.join(", "));
            }
        }
        s.push('.');
        let mut lines = vec![s];
        let text = d
            .and_then(|d| self.local_doc(&d.entity.info().name))
            .and_then(|doc| doc.member(wire))
            .map(|m| m.text.trim())
            .filter(|t| !t.is_empty());
        if let Some(text) = text {
            lines.push(String::new());
            lines.extend(text.lines().map(str::to_owned));
        }
        lines
    }

    /// QEMU's documentation of a definition, when generating for local
    /// reading.
    fn local_doc(&self, name: &str) -> Option<&qapi_parser::doc::Doc> {
        self.cfg.local_docs.as_ref()?.get(name)
    }

    // ---- types ---------------------------------------------------------

    fn type_ident(&self, qapi: &str) -> Ident {
        ident(
            self.types
                .get(qapi)
                .unwrap_or_else(|| panic!("type '{qapi}' is defined")),
        )
    }

    /// The Rust type of a type reference.
    fn ty(&self, t: &TypeRef) -> TokenStream {
        match t {
            TypeRef::Builtin(b) => match b {
                Builtin::Str => quote!(String),
                Builtin::Number => quote!(f64),
                Builtin::Int | Builtin::Int64 => quote!(i64),
                Builtin::Int8 => quote!(i8),
                Builtin::Int16 => quote!(i16),
                Builtin::Int32 => quote!(i32),
                Builtin::Uint8 => quote!(u8),
                Builtin::Uint16 => quote!(u16),
                Builtin::Uint32 => quote!(u32),
                Builtin::Uint64 | Builtin::Size => quote!(u64),
                Builtin::Bool => quote!(bool),
                Builtin::Null => quote!(()),
                Builtin::Any => quote!(::serde_json::Value),
            },
            TypeRef::Enum(n) | TypeRef::Object(n) | TypeRef::Alternate(n) => {
                let i = self.type_ident(n);
                if self.in_submodule.get() {
                    quote!(super::#i)
                } else {
                    quote!(#i)
                }
            }
            TypeRef::Array(e) => {
                let e = self.ty(e);
                quote!(Vec<#e>)
            }
        }
    }

    /// The types a value of `name` holds directly (not through an array).
    fn direct_edges(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        let push = |t: &TypeRef, out: &mut Vec<String>| {
            if let TypeRef::Object(n) | TypeRef::Alternate(n) = t {
                out.push(n.clone());
            }
        };
        match self.api.get(name).map(|d| &d.entity) {
            Some(Entity::Struct(_)) | Some(Entity::Union(_)) => {
                for m in self.api.all_members(name) {
                    push(&m.ty, &mut out);
                }
                if let Some(vs) = self.api.object(name).and_then(|o| o.variants.as_ref()) {
                    out.extend(vs.variants.iter().map(|v| v.ty.clone()));
                }
            }
            Some(Entity::Alternate(a)) => {
                for b in &a.branches {
                    push(&b.ty, &mut out);
                }
            }
            _ => {}
        }
        out
    }

    /// Whether holding a `t` inside `container` makes a cycle without an
    /// indirection, so the field needs a `Box`.
    fn needs_box(&self, container: &str, t: &TypeRef) -> bool {
        let (TypeRef::Object(start) | TypeRef::Alternate(start)) = t else {
            return false;
        };
        let mut seen = HashSet::new();
        let mut stack = vec![start.clone()];
        while let Some(n) = stack.pop() {
            if n == container {
                return true;
            }
            if seen.insert(n.clone()) {
                stack.extend(self.direct_edges(&n));
            }
        }
        false
    }

    /// Whether JSON `null` is a value of `t` (rather than "absent").
    fn may_be_null(&self, t: &TypeRef) -> bool {
        match t {
            TypeRef::Builtin(Builtin::Null | Builtin::Any) => true,
            TypeRef::Alternate(n) => match self.api.get(n).map(|d| &d.entity) {
                Some(Entity::Alternate(a)) => a
                    .branches
                    .iter()
                    .any(|b| matches!(b.ty, TypeRef::Builtin(Builtin::Null))),
                _ => false,
            },
            _ => false,
        }
    }

    fn unstable_attr(&self, unstable: bool) -> TokenStream {
        match (&self.cfg.unstable_feature, unstable) {
            (Some(f), true) => quote!(#[cfg(feature = #f)]),
            _ => quote!(),
        }
    }

    /// Fields for `members`; `container` is the QAPI type holding them (for
    /// recursion), `d` the definition whose facts describe them.
    fn fields(&self, members: &[&Member], container: Option<&str>, d: Option<&Def>) -> Vec<Field> {
        members
            .iter()
            .map(|m| {
                let boxed = container.is_some_and(|c| self.needs_box(c, &m.ty));
                let mut extra = String::new();
                if m.optional {
                    extra.push_str(", optional");
                }
                if let Some(c) = &m.cond {
                    extra += &format!(", only with `{c}`");
                }
                let conv = match &m.ty {
                    TypeRef::Builtin(Builtin::Str) => Conv::Str,
                    TypeRef::Array(e) => Conv::List(self.ty(e)),
                    _ => Conv::Plain,
                };
                Field {
                    conv,
                    default_init: false,
                    nullable: m.optional && self.may_be_null(&m.ty),
                    wire: m.name.clone(),
                    ident: field_name(&m.name),
                    ty: self.ty(&m.ty),
                    optional: m.optional,
                    boxed,
                    deprecated: has(&m.features, "deprecated"),
                    unstable: has(&m.features, "unstable"),
                    doc: self.part_doc(d, "Member", &m.name, &extra),
                }
            })
            .collect()
    }

    /// A struct with `fields`, its constructor and setters. `flatten` is an
    /// extra required field whose members sit beside the others on the wire.
    fn struct_items(
        &self,
        name: &Ident,
        doc: &[String],
        fields: &[Field],
        non_exhaustive: bool,
        cfg: &TokenStream,
    ) -> TokenStream {
        let doc = doc_attrs(doc);
        let decls = fields.iter().map(|f| {
            let id = f.ident();
            let ty = f.full_ty();
            let fdoc = doc_attrs(&f.doc);
            let cfg = self.unstable_attr(f.unstable);
            let dep = if f.deprecated {
                quote!(#[deprecated])
            } else {
                quote!()
            };
            quote! {
                #fdoc
                #cfg
                #dep
                pub #id: #ty,
            }
        });
        let required: Vec<&Field> = fields
            .iter()
            .filter(|f| !f.optional && !f.default_init)
            .collect();
        let all_optional = required.is_empty();
        let params = required.iter().map(|f| {
            let id = f.ident();
            let (ty, _) = f.param();
            let cfg = self.unstable_attr(f.unstable);
            quote!(#cfg #id: #ty)
        });
        let inits = fields.iter().map(|f| {
            let id = f.ident();
            let cfg = self.unstable_attr(f.unstable);
            if f.optional {
                quote!(#cfg #id: None)
            } else if f.default_init {
                quote!(#cfg #id: Default::default())
            } else if matches!(f.conv, Conv::Plain) && !f.boxed {
                quote!(#cfg #id)
            } else {
                let v = f.wrap(f.param().1);
                quote!(#cfg #id: #v)
            }
        });
        let extra_setters = fields.iter().filter(|f| f.default_init).map(|f| {
            let id = f.ident();
            let setter = format_ident!("with_{}", f.ident.trim_start_matches("r#"));
            let ty = &f.ty;
            quote! {
                /// Sets the further arguments.
                #[must_use]
                pub fn #setter(mut self, #id: #ty) -> Self {
                    self.#id = #id;
                    self
                }

                /// Adds one further argument, such as a device property:
                /// `.with_property("bus", "usb.0")`.
                #[must_use]
                pub fn with_property(
                    mut self,
                    name: impl Into<String>,
                    value: impl Into<::serde_json::Value>,
                ) -> Self {
                    self.#id.insert(name.into(), value.into());
                    self
                }
            }
        });
        let setters = fields.iter().filter(|f| f.optional).map(|f| {
            let id = f.ident();
            let bare = f.ident.trim_start_matches("r#");
            let setter = format_ident!("with_{}", bare);
            // Setters also take what converts (`with_capture_output(true)`
            // for an alternate with a boolean branch).
            let (ty, conv) = match f.conv {
                Conv::Plain => {
                    let t = &f.ty;
                    (quote!(impl Into<#t>), quote!(#id.into()))
                }
                _ => f.param(),
            };
            let v = f.wrap(conv);
            let cfg = self.unstable_attr(f.unstable);
            let dep = if f.deprecated {
                quote!(#[deprecated])
            } else {
                quote!()
            };
            let sdoc = doc_attrs(&[format!("Sets `{}`.", f.wire)]);
            quote! {
                #sdoc
                #cfg
                #dep
                #[must_use]
                pub fn #setter(mut self, #id: #ty) -> Self {
                    self.#id = Some(#v);
                    self
                }
            }
        });
        let many = if required.len() > 7 {
            quote!(#[allow(clippy::too_many_arguments)])
        } else {
            quote!()
        };
        let default = if all_optional {
            quote!(Default,)
        } else {
            quote!()
        };
        let ne = if non_exhaustive {
            quote!(#[non_exhaustive])
        } else {
            quote!()
        };
        let new_doc = if all_optional {
            "Builds the value with every member absent."
        } else {
            "Builds the value from its required members; optional ones start absent."
        };
        let new_doc_line = format!(" {new_doc}");
        let serde = self.struct_serde(name, fields, cfg);
        quote! {
            #doc
            #cfg
            #[derive(Clone, Debug, #default PartialEq)]
            #ne
            pub struct #name {
                #(#decls)*
            }

            #cfg
            impl #name {
                #[doc = #new_doc_line]
                #many
                pub fn new(#(#params),*) -> Self {
                    Self { #(#inits),* }
                }
                #(#setters)*
                #(#extra_setters)*
            }

            #serde
        }
    }

    /// `Serialize` and `Deserialize` for a struct with `fields`, through
    /// the shared helpers of `__private` (see `Members` there for why not
    /// `serde_derive`).
    fn struct_serde(&self, name: &Ident, fields: &[Field], cfg: &TokenStream) -> TokenStream {
        let krate = &self.krate;
        let sers = fields.iter().map(|f| {
            let id = f.ident();
            let w = &f.wire;
            let fcfg = self.unstable_attr(f.unstable);
            if w.is_empty() {
                quote!(#fcfg p::ser_flatten(&mut m, &self.#id)?;)
            } else if f.optional {
                quote!(#fcfg p::ser_optional(&mut m, #w, &self.#id)?;)
            } else {
                quote!(#fcfg ::serde::ser::SerializeMap::serialize_entry(&mut m, #w, &self.#id)?;)
            }
        });
        let des = fields.iter().map(|f| {
            let id = f.ident();
            let w = &f.wire;
            let fcfg = self.unstable_attr(f.unstable);
            if w.is_empty() {
                quote!(#fcfg #id: m.rest()?,)
            } else if f.nullable {
                quote!(#fcfg #id: m.nullable(#w)?,)
            } else if f.optional {
                quote!(#fcfg #id: m.optional(#w)?,)
            } else {
                quote!(#fcfg #id: m.required(#w)?,)
            }
        });
        quote! {
            #cfg
            #[allow(deprecated, unused_mut)]
            impl ::serde::Serialize for #name {
                fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    use #krate::__private as p;
                    let mut m = p::ser_struct(s)?;
                    #(#sers)*
                    ::serde::ser::SerializeMap::end(m)
                }
            }

            #cfg
            #[allow(deprecated, unused_variables)]
            impl #krate::__private::FromMembers for #name {
                fn from_members(m: &mut #krate::__private::Members) -> Result<Self, ::serde_json::Error> {
                    Ok(Self { #(#des)* })
                }
            }

            #cfg
            impl<'de> ::serde::Deserialize<'de> for #name {
                fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    #krate::__private::de_struct(d)
                }
            }
        }
    }

    fn named_struct(&self, d: &Def, o: &ObjectType) -> TokenStream {
        let name = self.type_ident(&o.info.name);
        let members = self.api.all_members(&o.info.name);
        let fields = self.fields(&members, Some(&o.info.name), Some(d));
        let mut doc = self.def_doc(d, "");
        let _ = &mut doc;
        let dep = self.deprecated(&o.info.features);
        let items = self.struct_items(&name, &doc, &fields, true, &quote!());
        quote!(#dep #items)
    }

    fn deprecated(&self, features: &[Feature]) -> TokenStream {
        if has(features, "deprecated") {
            quote!(#[deprecated])
        } else {
            quote!()
        }
    }

    fn enumeration(&self, d: &Def, e: &EnumType) -> TokenStream {
        let name = self.type_ident(&e.info.name);
        let doc = doc_attrs(&self.def_doc(d, ""));
        let dep = self.deprecated(&e.info.features);
        let krate = &self.krate;
        let values: Vec<(Ident, &str, TokenStream)> = e
            .values
            .iter()
            .map(|v| {
                let id = ident(&variant_name(&v.name));
                let mut extra = String::new();
                if let Some(c) = &v.cond {
                    extra += &format!(", only with `{c}`");
                }
                let vdoc = doc_attrs(&self.part_doc(Some(d), "Value", &v.name, &extra));
                let vdep = self.deprecated(&v.features);
                let alias = wire_alias(&v.name);
                (id, v.name.as_str(), quote!(#vdoc #alias #vdep))
            })
            .collect();
        let variants = values.iter().map(|(id, _, attrs)| quote!(#attrs #id,));
        let to_str = values.iter().map(|(id, w, _)| quote!(Self::#id => #w,));
        let from_str = values.iter().map(|(id, w, _)| quote!(#w => Self::#id,));
        let wires = values.iter().map(|(_, w, _)| w);
        quote! {
            #doc
            #dep
            #[derive(Clone, Debug, PartialEq, Eq, Hash)]
            #[non_exhaustive]
            pub enum #name {
                #(#variants)*
                /// A value this build does not know, kept verbatim.
                Unknown(#krate::UnknownValue),
            }

            impl #name {
                /// The wire spellings of the values this build knows.
                pub const fn values() -> &'static [&'static str] {
                    &[#(#wires),*]
                }

                /// The value's wire spelling.
                pub fn as_str(&self) -> &str {
                    match self {
                        #(#to_str)*
                        Self::Unknown(v) => v.as_str(),
                    }
                }
            }

            impl From<&str> for #name {
                fn from(s: &str) -> Self {
                    match s {
                        #(#from_str)*
                        _ => Self::Unknown(#krate::UnknownValue::new(s)),
                    }
                }
            }

            #krate::__private::impl_enum!(#name);
        }
    }

    /// Base members of a union other than the discriminator.
    fn union_base(&self, o: &ObjectType) -> Vec<&'a Member> {
        let disc = o.variants.as_ref().map(|v| v.discriminator.as_str());
        self.api
            .all_members(&o.info.name)
            .into_iter()
            .filter(|m| Some(m.name.as_str()) != disc)
            .collect()
    }

    /// The branch payload of union `union` for a branch of type `ty`.
    fn payload(&self, union: &str, ty: &str) -> (Payload, bool) {
        let members = self.api.all_members(ty);
        let is_struct = matches!(self.api.get(ty).map(|d| &d.entity), Some(Entity::Struct(_)));
        if is_struct && members.len() == 1 && members[0].name == "data" && !members[0].optional {
            let t = &members[0].ty;
            (Payload::Wrapped(self.ty(t)), self.needs_box(union, t))
        } else {
            let t = TypeRef::Object(ty.to_owned());
            (Payload::Object(self.ty(&t)), self.needs_box(union, &t))
        }
    }

    fn union(&self, d: &Def, o: &ObjectType) -> TokenStream {
        let krate = &self.krate;
        let vs = o.variants.as_ref().expect("unions have branches");
        let tag = vs.discriminator.as_str();
        let tag_values: Vec<String> = match self.api.get(&vs.tag_type).map(|d| &d.entity) {
            Some(Entity::Enum(e)) => e.values.iter().map(|v| v.name.clone()).collect(),
            _ => vs.variants.iter().map(|v| v.name.clone()).collect(),
        };
        let base = self.union_base(o);
        let enum_name = match self.branch_enums.get(&o.info.name) {
            Some(n) => ident(n),
            None => self.type_ident(&o.info.name),
        };
        let mut variants = Vec::new();
        let mut sers = Vec::new();
        let mut des = Vec::new();
        let mut froms: Vec<(TokenStream, Ident, bool)> = Vec::new();
        for value in &tag_values {
            let id = ident(&variant_name(value));
            let branch = vs.variants.iter().find(|v| &v.name == value);
            let mut extra = String::new();
            if let Some(c) = branch.and_then(|b| b.cond.as_ref()) {
                extra += &format!(", only with `{c}`");
            }
            let vdoc = doc_attrs(&self.part_doc(
                Some(d),
                "Branch",
                value,
                &format!(" (`{tag}` = `\"{value}\"`){extra}"),
            ));
            let (payload, boxed) = match branch {
                None => (Payload::Unit, false),
                Some(b)
                    if self
                        .api
                        .get(&b.ty)
                        .is_some_and(|d| d.entity.info().implicit)
                        && self.api.all_members(&b.ty).is_empty() =>
                {
                    (Payload::Unit, false)
                }
                Some(b) => self.payload(&o.info.name, &b.ty),
            };
            let wrap_ty = |t: &TokenStream| {
                if boxed { quote!(Box<#t>) } else { t.clone() }
            };
            match &payload {
                Payload::Unit => {
                    variants.push(quote!(#vdoc #id,));
                    sers.push(quote!(Self::#id => p::ser_unit(s, #tag, #value),));
                    des.push(quote!(#value => Self::#id,));
                }
                Payload::Object(t) => {
                    let ft = wrap_ty(t);
                    variants.push(quote!(#vdoc #id(#ft),));
                    sers.push(quote!(Self::#id(v) => p::ser_branch(s, #tag, #value, v),));
                    des.push(quote!(#value => Self::#id(p::de_branch(rest)?),));
                    froms.push((t.clone(), id.clone(), boxed));
                }
                Payload::Wrapped(t) => {
                    let ft = wrap_ty(t);
                    variants.push(quote!(#vdoc #id(#ft),));
                    sers.push(quote!(Self::#id(v) => p::ser_wrapped(s, #tag, #value, v),));
                    des.push(quote!(#value => Self::#id(p::de_wrapped(rest)?),));
                    froms.push((t.clone(), id.clone(), boxed));
                }
            }
        }
        // From<payload> only where the payload type picks one branch.
        let mut counts: HashMap<String, usize> = HashMap::new();
        for (t, _, _) in &froms {
            *counts.entry(t.to_string()).or_default() += 1;
        }
        let from_impls = froms
            .iter()
            .filter(|(t, _, _)| counts[&t.to_string()] == 1)
            .map(|(t, id, boxed)| {
                let v = if *boxed {
                    quote!(Box::new(v))
                } else {
                    quote!(v)
                };
                quote! {
                    impl From<#t> for #enum_name {
                        fn from(v: #t) -> Self {
                            Self::#id(#v)
                        }
                    }
                }
            });
        let enum_doc = if self.branch_enums.contains_key(&o.info.name) {
            doc_attrs(&[
                format!(
                    "The branches of [`{}`], selected by its member `{tag}`.",
                    self.type_ident(&o.info.name)
                ),
                String::new(),
                "Decodes values this build does not know into `Unknown`.".into(),
            ])
        } else {
            doc_attrs(&self.def_doc(d, &format!(", tagged by `{tag}`")))
        };
        let dep = if self.branch_enums.contains_key(&o.info.name) {
            quote!()
        } else {
            self.deprecated(&o.info.features)
        };
        let enum_items = quote! {
            #enum_doc
            #dep
            #[derive(Clone, Debug, PartialEq)]
            #[non_exhaustive]
            pub enum #enum_name {
                #(#variants)*
                /// A branch this build does not know, kept verbatim.
                Unknown(#krate::UnknownBranch),
            }

            impl ::serde::Serialize for #enum_name {
                fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    use #krate::__private as p;
                    match self {
                        #(#sers)*
                        Self::Unknown(u) => p::ser_unknown(s, #tag, u),
                    }
                }
            }

            impl<'de> ::serde::Deserialize<'de> for #enum_name {
                fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    use #krate::__private as p;
                    let (tag, rest) = p::split_tag(d, #tag)?;
                    Ok(match tag.as_str() {
                        #(#des)*
                        _ => Self::Unknown(#krate::UnknownBranch::new(tag, rest)),
                    })
                }
            }

            #(#from_impls)*
        };
        if !self.branch_enums.contains_key(&o.info.name) {
            return enum_items;
        }
        let name = self.type_ident(&o.info.name);
        let mut fields = self.fields(&base, Some(&o.info.name), Some(d));
        fields.push(Field {
            conv: Conv::Plain,
            default_init: false,
            nullable: false,
            wire: String::new(),
            ident: field_name(tag),
            ty: quote!(#enum_name),
            optional: false,
            boxed: false,
            deprecated: false,
            unstable: false,
            doc: vec![format!(
                "Member `{tag}` and the members of the branch it selects."
            )],
        });
        let doc = self.def_doc(d, &format!(", tagged by `{tag}`"));
        let dep = self.deprecated(&o.info.features);
        let st = self.struct_items(&name, &doc, &fields, true, &quote!());
        quote!(#dep #st #enum_items)
    }

    fn alternate(&self, d: &Def, a: &AlternateType) -> TokenStream {
        let krate = &self.krate;
        let name = self.type_ident(&a.info.name);
        let doc = doc_attrs(&self.def_doc(d, ", decoded by JSON type"));
        let dep = self.deprecated(&a.info.features);
        let mut variants = Vec::new();
        let mut arms = Vec::new();
        let mut froms = Vec::new();
        let mut ids = Vec::new();
        for b in &a.branches {
            let id = ident(&variant_name(&b.name));
            let t = self.ty(&b.ty);
            let boxed = self.needs_box(&a.info.name, &b.ty);
            let ft = if boxed { quote!(Box<#t>) } else { t.clone() };
            let json = match b.ty.json_type() {
                JsonType::String => "a string",
                JsonType::Int => "an integer",
                JsonType::Number => "a number",
                JsonType::Boolean => "a boolean",
                JsonType::Null => "null",
                JsonType::Object => "an object",
                JsonType::Array => "an array",
                JsonType::Value => "any value",
            };
            let vdoc = doc_attrs(&self.part_doc(Some(d), "Branch", &b.name, &format!(", {json}")));
            variants.push(quote!(#vdoc #id(#ft),));
            let pat = match b.ty.json_type() {
                JsonType::String => quote!(p::Json::String),
                JsonType::Int => quote!(p::Json::Int),
                JsonType::Number => quote!(p::Json::Int | p::Json::Float),
                JsonType::Boolean => quote!(p::Json::Bool),
                JsonType::Null => quote!(p::Json::Null),
                JsonType::Object => quote!(p::Json::Object),
                JsonType::Array => quote!(p::Json::Array),
                JsonType::Value => quote!(_),
            };
            let v = if boxed {
                quote!(Box::new(p::de_value(v)?))
            } else {
                quote!(p::de_value(v)?)
            };
            arms.push(quote!(#pat => Self::#id(#v),));
            ids.push(id.clone());
            froms.push((t, id, boxed));
        }
        let from_impls = froms.iter().map(|(t, id, boxed)| {
            let v = if *boxed {
                quote!(Box::new(v))
            } else {
                quote!(v)
            };
            quote! {
                impl From<#t> for #name {
                    fn from(v: #t) -> Self {
                        Self::#id(#v)
                    }
                }
            }
        });
        quote! {
            #doc
            #dep
            #[derive(Clone, Debug, PartialEq)]
            #[non_exhaustive]
            pub enum #name {
                #(#variants)*
                /// A value of a JSON type no branch of this build takes (a
                /// newer QEMU's branch), kept verbatim.
                Unknown(::serde_json::Value),
            }

            // Each branch encodes as its value alone (untagged).
            impl ::serde::Serialize for #name {
                fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    match self {
                        #(Self::#ids(v) => ::serde::Serialize::serialize(v, s),)*
                        Self::Unknown(v) => ::serde::Serialize::serialize(v, s),
                    }
                }
            }

            impl<'de> ::serde::Deserialize<'de> for #name {
                fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    use #krate::__private as p;
                    let v = <::serde_json::Value as ::serde::Deserialize>::deserialize(d)?;
                    Ok(match p::json_type(&v) {
                        #(#arms)*
                        #[allow(unreachable_patterns)]
                        _ => Self::Unknown(v),
                    })
                }
            }

            #(#from_impls)*
        }
    }

    // ---- commands ------------------------------------------------------

    /// How a command's arguments are held.
    fn command_args(&self, d: &'a Def) -> CommandArgs<'a> {
        let Entity::Command(c) = &d.entity else {
            unreachable!("a command")
        };
        match &c.args {
            None => CommandArgs::Members(Vec::new()),
            Some(a) if c.boxed => CommandArgs::Boxed(a.clone()),
            Some(a) => CommandArgs::Members(self.api.all_members(a)),
        }
    }

    fn releases_const(&self, d: &Def) -> TokenStream {
        let krate = &self.krate;
        let rel = |r: crate::Release| {
            let a = proc_macro2::Literal::u16_unsuffixed(r.major);
            let b = proc_macro2::Literal::u16_unsuffixed(r.minor);
            quote!(#krate::Release::new(#a, #b))
        };
        let first = rel(d.span.first);
        let last = rel(d.span.last);
        let since = d.since.as_deref().and_then(crate::Release::parse);
        let added = match since {
            Some(s) => {
                let s = rel(s);
                quote!(Some(#s))
            }
            None if d.span.first > self.api.oldest() => {
                quote!(Some(#first))
            }
            None => quote!(None),
        };
        let removed = match self.api.after(d.span.last) {
            Some(r) => {
                let r = rel(r);
                quote!(Some(#r))
            }
            None => quote!(None),
        };
        quote! {
            #krate::Releases { first: #first, last: #last, added: #added, removed: #removed }
        }
    }

    fn command(&self, d: &'a Def) -> TokenStream {
        let Entity::Command(c) = &d.entity else {
            unreachable!("a command")
        };
        let krate = &self.krate;
        let name = ident(&self.commands[&c.info.name]);
        let wire = &c.info.name;
        let doc = self.def_doc(d, "");
        let dep = self.deprecated(&c.info.features);
        let cfg = self.unstable_attr(has(&c.info.features, "unstable"));
        let def = match self.command_args(d) {
            CommandArgs::Members(ms) => {
                let mut fields = self.fields(&ms, None, Some(d));
                if !c.gen_code {
                    fields.push(extra_field());
                }
                self.struct_items(&name, &doc, &fields, true, &cfg)
            }
            CommandArgs::Boxed(a) => {
                let inner = self.ty(&TypeRef::Object(a.clone()));
                let doc = doc_attrs(&doc);
                quote! {
                    #doc
                    #cfg
                    #[derive(Clone, Debug, PartialEq)]
                    pub struct #name(pub #inner);
                    #krate::__private::impl_transparent!(#name);
                }
            }
        };
        let output = match &c.returns {
            None => quote!(#krate::Empty),
            Some(t) => self.ty(t),
        };
        let mut consts = vec![];
        let protocol = match self.cfg.protocol {
            Protocol::Qmp => quote!(#krate::Qmp),
            Protocol::GuestAgent => quote!(#krate::GuestAgent),
        };
        consts.push(quote!(type Protocol = #protocol;));
        if c.allow_oob {
            consts.push(quote!(
                const ALLOW_OOB: bool = true;
            ));
        }
        if !c.success_response {
            consts.push(quote!(
                const SUCCESS_RESPONSE: bool = false;
            ));
        }
        let releases = self.releases_const(d);
        consts.push(quote!(const RELEASES: #krate::Releases = #releases;));
        if let Some(cond) = &c.info.cond {
            let text = cond.to_string();
            consts.push(quote!(const CONDITION: Option<&'static str> = Some(#text);));
        }
        quote! {
            #dep
            #def

            #cfg
            impl #krate::Command for #name {
                const NAME: &'static str = #wire;
                #(#consts)*
                type Output = #output;
            }
        }
    }

    fn commands_trait(
        &self,
        trait_name: &str,
        which: &BTreeSet<String>,
        what: &str,
    ) -> TokenStream {
        let krate = &self.krate;
        let tname = ident(trait_name);
        let mut methods = Vec::new();
        for d in &self.api.defs {
            let Entity::Command(c) = &d.entity else {
                continue;
            };
            if !which.contains(&c.info.name) {
                continue;
            }
            let ty_ident = ident(&self.commands[&c.info.name]);
            let commands_mod = format_ident!("{}", naming::COMMANDS_MODULE);
            let ty = quote!(#commands_mod::#ty_ident);
            let method = ident(&method_name(&c.info.name));
            let wire = &c.info.name;
            let dep = self.deprecated(&c.info.features);
            let cfg = self.unstable_attr(has(&c.info.features, "unstable"));
            let (params, build) = match self.command_args(d) {
                CommandArgs::Boxed(a) => {
                    let inner = self.ty(&TypeRef::Object(a.clone()));
                    let p = ident(&field_name(&a).replace("r#", ""));
                    (vec![quote!(#p: #inner)], quote!(#ty(#p)))
                }
                CommandArgs::Members(ms) => {
                    // Further arguments of unchecked commands (device
                    // properties) go through the command struct's
                    // `with_property`; the method takes the schema's members.
                    let fields = self.fields(&ms, None, None);
                    let params = fields.iter().map(|f| {
                        let id = f.ident();
                        let t = if f.optional {
                            let t = &f.ty;
                            quote!(Option<#t>)
                        } else {
                            f.param().0
                        };
                        let cfg = self.unstable_attr(f.unstable);
                        quote!(#cfg #id: #t)
                    });
                    let inits = fields.iter().map(|f| {
                        let id = f.ident();
                        let cfg = self.unstable_attr(f.unstable);
                        if f.optional || matches!(f.conv, Conv::Plain) {
                            quote!(#cfg #id)
                        } else {
                            let v = f.param().1;
                            quote!(#cfg #id: #v)
                        }
                    });
                    let build = if c.gen_code {
                        quote!(#ty { #(#inits),* })
                    } else {
                        let extra = ident(naming::EXTRA_FIELD);
                        quote!(#ty { #(#inits,)* #extra: Default::default() })
                    };
                    (params.collect(), build)
                }
            };
            let (out, body) = match &c.returns {
                None => (
                    quote!(()),
                    quote!(let command = #build; async move { self.execute(command).await.map(|_| ()) }),
                ),
                Some(t) => (self.ty(t), quote!(self.execute(#build))),
            };
            let many = if params.len() > 6 {
                quote!(#[allow(clippy::too_many_arguments)])
            } else {
                quote!()
            };
            let mdoc = doc_attrs(&[
                format!(
                    "Runs [`{}::{ty_ident}`] (`{wire}`).",
                    naming::COMMANDS_MODULE
                ),
                String::new(),
                "# Errors".into(),
                String::new(),
                "Whatever the transport reports: QEMU's error reply, a lost".into(),
                "connection, a reply that does not decode.".into(),
            ]);
            let alias = (method != wire.as_str()).then(|| quote!(#[doc(alias = #wire)]));
            methods.push(quote! {
                #mdoc
                #alias
                #cfg
                #dep
                #many
                fn #method(&self, #(#params),*) -> impl ::std::future::Future<Output = Result<#out, Self::Error>> + Send {
                    #body
                }
            });
        }
        let doc = doc_attrs(&[
            format!(
                "One method per {what} command, for every [`Execute`]({krate_doc}::Execute) transport.",
                krate_doc = self.cfg.krate
            ),
            String::new(),
            "Required arguments are positional, optional ones `Option`s, in the".into(),
            "schema's order. A new optional member in a later QEMU changes a".into(),
            "method's arguments; code that must survive upgrades builds the".into(),
            "command struct instead and passes it to `execute` (see the crate's".into(),
            "signature policy).".into(),
        ]);
        let protocol = match self.cfg.protocol {
            Protocol::Qmp => quote!(#krate::Qmp),
            Protocol::GuestAgent => quote!(#krate::GuestAgent),
        };
        quote! {
            #doc
            pub trait #tname: #krate::Execute<Protocol = #protocol> {
                #(#methods)*
            }

            impl<T: #krate::Execute<Protocol = #protocol> + ?Sized> #tname for T {}
        }
    }

    fn commands_macro(&self, name: &str) -> TokenStream {
        let m = format_ident!("{}", name);
        let entries = self.api.defs.iter().filter_map(|d| match &d.entity {
            Entity::Command(c) => {
                let wire = &c.info.name;
                let ty = ident(&self.commands[wire]);
                let module: TokenStream = self.cfg.module.parse().expect("module path parses");
                if self.cfg.unstable_enabled || !has(&c.info.features, "unstable") {
                    let commands_mod = format_ident!("{}", naming::COMMANDS_MODULE);
                    Some(quote!((#wire, $crate::#module::#commands_mod::#ty)))
                } else {
                    None
                }
            }
            _ => None,
        });
        quote! {
            /// Calls `$m!` with `(wire name, type)` of every command: for tests.
            #[doc(hidden)]
            #[macro_export]
            macro_rules! #m {
                ($m:path) => { $m! { #(#entries),* } };
            }
        }
    }

    // ---- events --------------------------------------------------------

    fn events(&self) -> TokenStream {
        let krate = &self.krate;
        let mut items = Vec::new();
        let mut variants = Vec::new();
        let mut names = Vec::new();
        let mut sers = Vec::new();
        let mut des = Vec::new();
        let mut name_variants = Vec::new();
        let mut name_strs = Vec::new();
        let mut name_ids = Vec::new();
        let mut name_releases = Vec::new();
        for d in &self.api.defs {
            let Entity::Event(e) = &d.entity else {
                continue;
            };
            let wire = &e.info.name;
            let id = ident(&event_name(wire));
            let vdoc = doc_attrs(&self.def_doc(d, ""));
            let dep = self.deprecated(&e.info.features);
            let payload = if let Some(ms) = self.event_payload_members(e.args.as_deref(), e.boxed) {
                let pname = ident(&self.events[wire]);
                self.in_submodule.set(true);
                let fields = self.fields(&ms, None, Some(d));
                let pdoc = vec![format!("The data of QMP event `{wire}` ([`Event::{id}`]).")];
                items.push(self.struct_items(&pname, &pdoc, &fields, true, &quote!()));
                self.in_submodule.set(false);
                let events_mod = format_ident!("{}", naming::EVENTS_MODULE);
                Some(quote!(#events_mod::#pname))
            } else {
                e.args
                    .as_ref()
                    .filter(|a| self.api.get(a).is_some_and(|d| !d.entity.info().implicit))
                    .map(|a| self.ty(&TypeRef::Object(a.clone())))
            };
            names.push(match &payload {
                Some(_) => quote!(Self::#id(_) => #wire,),
                None => quote!(Self::#id => #wire,),
            });
            name_variants.push(quote!(#vdoc #dep #id,));
            name_strs.push(quote!(Self::#id => #wire,));
            name_ids.push(id.clone());
            let releases = self.releases_const(d);
            name_releases.push(quote!(Self::#id => #releases,));
            match payload {
                Some(t) => {
                    variants.push(quote!(#vdoc #dep #id(#t),));
                    sers.push(quote!(Self::#id(v) => p::ser_event(s, #wire, Some(v)),));
                    des.push(quote!(#wire => Self::#id(p::de_data(data)?),));
                }
                None => {
                    variants.push(quote!(#vdoc #dep #id,));
                    sers.push(quote!(Self::#id => p::ser_event::<_, ()>(s, #wire, None),));
                    des.push(quote!(#wire => Self::#id,));
                }
            }
        }
        let proto = match self.cfg.protocol {
            Protocol::Qmp => "QMP",
            Protocol::GuestAgent => "guest agent",
        };
        let doc = doc_attrs(&[
            format!("An asynchronous {proto} event, by name, with its data."),
            String::new(),
            "Decodes from QEMU's event object without its `timestamp` (see".into(),
            format!(
                "[`EventMessage`]({}::EventMessage) for the whole message). Events this",
                self.cfg.krate
            ),
            "build does not know decode as [`Event::Unknown`].".into(),
        ]);
        // A protocol without events (the guest agent) only has the catch-all.
        let no_events = des
            .is_empty()
            .then(|| quote!(#[allow(clippy::match_single_binding)]));
        let events_mod = format_ident!("{}", naming::EVENTS_MODULE);
        let event_names = (!name_variants.is_empty()).then(|| {
            quote! {
                /// The names of the events this build knows, for
                /// subscriptions: a misspelt name does not compile.
                #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
                #[non_exhaustive]
                pub enum EventName {
                    #(#name_variants)*
                }

                impl EventName {
                    /// Every event this build knows, in schema order.
                    #[allow(deprecated)]
                    pub const ALL: &'static [EventName] = &[#(Self::#name_ids),*];

                    /// The wire name, e.g. `STOP`.
                    #[allow(deprecated)]
                    pub const fn as_str(self) -> &'static str {
                        match self {
                            #(#name_strs)*
                        }
                    }

                    /// The releases of the bindings that have this event.
                    #[allow(deprecated)]
                    pub const fn releases(self) -> #krate::Releases {
                        match self {
                            #(#name_releases)*
                        }
                    }
                }

                impl AsRef<str> for EventName {
                    fn as_ref(&self) -> &str {
                        self.as_str()
                    }
                }

                impl ::std::fmt::Display for EventName {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(self.as_str())
                    }
                }
            }
        });
        quote! {
            #event_names

            /// The data of events, one type per event that has members.
            pub mod #events_mod {
                #[allow(unused_imports)]
                use super::*;
                #(#items)*
            }

            #doc
            #[derive(Clone, Debug, PartialEq)]
            #[non_exhaustive]
            pub enum Event {
                #(#variants)*
                /// An event this build does not know, kept verbatim.
                Unknown {
                    /// The event's name.
                    name: String,
                    /// Its `data` member, if it has one.
                    data: Option<::serde_json::Value>,
                },
            }

            impl Event {
                /// The event's wire name, e.g. `STOP`.
                pub fn name(&self) -> &str {
                    match self {
                        #(#names)*
                        Self::Unknown { name, .. } => name,
                    }
                }
            }

            impl ::serde::Serialize for Event {
                fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    use #krate::__private as p;
                    match self {
                        #(#sers)*
                        Self::Unknown { name, data } => p::ser_event(s, name, data.as_ref()),
                    }
                }
            }

            impl<'de> ::serde::Deserialize<'de> for Event {
                #no_events
                fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    use #krate::__private as p;
                    let (name, data) = p::split_event(d)?;
                    Ok(match name.as_str() {
                        #(#des)*
                        _ => Self::Unknown { name, data },
                    })
                }
            }
        }
    }
}

/// The field that keeps the arguments QEMU takes beyond those its schema
/// names, for commands it does not generate code for (`'gen': false`, such
/// as `device_add`, whose other arguments are the device's properties).
fn extra_field() -> Field {
    Field {
        conv: Conv::Plain,
        default_init: true,
        nullable: false,
        wire: String::new(),
        ident: naming::EXTRA_FIELD.into(),
        ty: quote!(::serde_json::Map<String, ::serde_json::Value>),
        optional: false,
        boxed: false,
        deprecated: false,
        unstable: false,
        doc: vec![
            "Further arguments, passed as they are (QEMU does not check this".into(),
            "command's arguments against its schema).".into(),
        ],
    }
}

/// `#[doc(alias = "1")]` for a value whose Rust name does not show its
/// wire spelling (`Digit1`, `UnknownValue`), so that searching the docs for
/// the wire value finds it.
fn wire_alias(wire: &str) -> TokenStream {
    let n = variant_name(wire);
    if n.starts_with("Digit") || n.starts_with(naming::CATCH_ALL) {
        quote!(#[doc(alias = #wire)])
    } else {
        quote!()
    }
}

fn info_implicit(d: &Def) -> bool {
    d.entity.info().implicit
}

enum CommandArgs<'a> {
    Members(Vec<&'a Member>),
    Boxed(String),
}
