//! Parser and checker for QEMU's QAPI schema language.
//!
//! QEMU describes its machine protocol (QMP), guest agent and storage daemon
//! in QAPI schema files: JSON-like definitions of commands, events and types
//! with doc comments. This crate reads a root schema file and everything it
//! includes, applies every rule QEMU's own checker applies, and returns a
//! [`model::Schema`]: each definition with its location, resolved
//! types, implicit types named as QEMU names them, conditions, features and
//! structured documentation.
//!
//! ```no_run
//! let schema = qapi_parser::parse_file("qapi/qapi-schema.json")?;
//! println!("{}", schema.counts());
//! let send_key = schema.get("send-key").expect("QMP has send-key");
//! assert_eq!(send_key.meta(), "command");
//! # Ok::<(), qapi_parser::Error>(())
//! ```
//!
//! Errors carry `file:line:col` and the offending source line; see
//! [`Error`].
//!
//! Architecture invariant: this crate knows nothing of Rust code generation
//! or of QMP transports. It only reads schemas.
#![warn(missing_docs)]

pub mod doc;
mod error;
mod expr;
mod hash;
pub mod model;
mod names;
mod schema;
mod syntax;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, mpsc};

pub use error::{Diagnostic, Error};
use model::{Loc, Pragma, Schema};
use syntax::{Item, Node, Source, Value};

/// Reads, parses and checks the schema rooted at `path`, following
/// includes relative to each including file.
///
/// # Errors
/// The first problem found, located in the file that has it.
pub fn parse_file(path: impl AsRef<Path>) -> Result<Schema, Error> {
    parse_file_with(path, &Options::default())
}

/// Like [`parse_file`], with the rules `options` selects.
///
/// # Errors
/// The first problem found, located in the file that has it.
pub fn parse_file_with(path: impl AsRef<Path>, options: &Options) -> Result<Schema, Error> {
    parse_with(&path.as_ref().to_string_lossy(), options, &mut |p: &str| {
        std::fs::read_to_string(p)
    })
}

/// Which of QEMU's rules apply beyond those every supported release obeys.
///
/// The default accepts the schemas of every release this project supports
/// (6.1 to 10.2). [`Options::qemu_10_2`] adds the documentation layout rules
/// QEMU 10.1 introduced, which older schemas break: with them, the parser
/// agrees with QEMU 10.2's checker on QEMU's own test suite.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Reject documentation lines longer than 70 characters and single
    /// spaces between sentences.
    pub doc_layout_rules: bool,
}

impl Options {
    /// The rules of QEMU 10.2's checker, layout rules included.
    pub fn qemu_10_2() -> Options {
        Options {
            doc_layout_rules: true,
        }
    }
}

/// For the fuzz target: whether the syntax layer's two paths agree on
/// `text` (see `syntax::parse`).
#[cfg(fuzzing)]
#[doc(hidden)]
pub fn fuzz_syntax_paths_agree(text: &str) -> bool {
    syntax::paths_agree(text)
}

/// Like [`parse_file`], but reads files through `read`: for schemas held in
/// memory, or tests. `read` gets paths as the schema spells them, joined
/// onto the including file's directory, each at most once. It may be asked
/// for a file ahead of need, even one the parse stops before (an error
/// comes first, or what looked like an include directive was not one).
///
/// # Errors
/// The first problem found, located in the file that has it.
pub fn parse_with(
    root: &str,
    options: &Options,
    read: &mut dyn FnMut(&str) -> std::io::Result<String>,
) -> Result<Schema, Error> {
    let doc_style = if options.doc_layout_rules {
        doc::DocStyle::STRICT
    } else {
        doc::DocStyle::default()
    };
    let mut loader = Loader {
        read,
        doc_style,
        files: Files::default(),
        included: HashSet::new(),
        pragma: Pragma::default(),
        defs: Vec::new(),
        free_docs: Vec::new(),
        pool: None,
    };
    let text = match (loader.read)(root) {
        Ok(t) => t,
        Err(e) => return Err(Error::io(root, "schema file", &e)),
    };
    let root_abs = normalize(root);
    loader.included.insert(root_abs.clone());
    let root = parse_alone(root.to_owned(), text, doc_style);
    if includes(&root).next().is_none() {
        loader.load(root, root_abs, None)?;
        return loader.check();
    }
    // Included files are parsed on worker threads, ahead of the loader,
    // which walks the files in include order on this thread and so sees
    // (and reports) everything in the order a one-thread walk would. The
    // read callback runs on this thread only.
    let queue = JobQueue::default();
    std::thread::scope(|scope| {
        let (results, done) = mpsc::channel();
        spawn_workers(scope, workers(), &queue, &results, doc_style);
        drop(results);
        loader.pool = Some(Pool {
            jobs: &queue,
            done,
            requested: loader.included.clone(),
            slots: HashMap::new(),
            ready: HashMap::new(),
            next_id: 0,
        });
        loader.prefetch(&root);
        loader.load(root, root_abs, None)?;
        // Dropping the pool closes the queue and lets the workers finish.
        loader.pool = None;
        loader.check()
    })
}

/// What a worker sends back: a file's job number and the file parsed, or
/// the panic that parsing it raised.
type Done = (usize, std::thread::Result<Parsed>);

/// Starts `n` workers that parse the files in `queue` until it closes.
fn spawn_workers<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    n: usize,
    queue: &'scope JobQueue,
    results: &mpsc::Sender<Done>,
    doc_style: doc::DocStyle,
) {
    for _ in 0..n {
        let results = results.clone();
        scope.spawn(move || {
            // The loop ends when the pool closes the queue (also when the
            // loader fails or panics), or the loader has gone.
            while let Some(Job { id, path, text, .. }) = queue.take() {
                // A panic is handed to the loader to re-raise, as it would
                // have come from a one-thread parse; the loader would
                // otherwise wait for this file forever.
                let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    parse_alone(path, text, doc_style)
                }));
                if results.send((id, parsed)).is_err() {
                    break;
                }
            }
        });
    }
}

/// How many threads parse included files: as many as there are cores (up
/// to 8), asked once per process (asking reads cgroup files, 30 µs here).
fn workers() -> usize {
    static WORKERS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *WORKERS.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get().min(8)))
}

/// A file parsed on its own: its doc comments, and its definitions checked
/// as far as they can be alone. This is the work that needs nothing from
/// other files, so that it can run on any thread.
struct Parsed {
    src: Arc<Source>,
    /// The file's items, or its syntax error (not yet located in the
    /// include chain).
    items: Result<Vec<ParsedItem>, Error>,
}

enum ParsedItem {
    /// A doc block; an error is the file's last item.
    Doc(Result<doc::Doc, Error>),
    /// A definition, checked as far as it can be on its own.
    Def(Box<PreDef>),
    /// Anything else: a directive, or a bad expression for the loader to
    /// report; and where it is.
    Expr(Node<'static>, Loc),
}

/// A definition after the checks that need neither another definition nor
/// a pragma.
struct PreDef {
    loc: Loc,
    checked: PreChecked,
}

/// What the checks of one definition found before the pragmas are known.
///
/// Pragmas can only relax two naming rules of a definition (see
/// [`expr::Relax`]). A definition that fails the strictest check is
/// checked again here, on the parsing thread, with both relaxed, so that
/// the loader, which runs on one thread once every file is parsed, only
/// compares what the definition needed with what the pragmas grant it.
// The large variant is the common one, and the whole sits in a `Box`.
#[allow(clippy::large_enum_variant)]
enum PreChecked {
    /// The definition passes; if it needs rules relaxed, only when the
    /// pragmas relax at least those, and otherwise as said.
    Passed {
        def: expr::Def,
        needs: Option<(expr::Relax, Otherwise)>,
    },
    /// The definition fails even with both rules relaxed, or has no
    /// proper meta-type and name: checked again in full with the pragmas
    /// in effect, which decide the first error.
    Recheck(Node<'static>),
}

/// How a definition that needs a rule relaxed fails when it is not.
enum Otherwise {
    /// With the strictest check's error: when it needs one rule relaxed,
    /// the check fails at the first place that needs it, as the
    /// strictest check does.
    Fail(expr::Fail),
    /// It needs both relaxed: which error comes first depends on which
    /// one the pragmas grant, so it is checked again in full.
    Recheck(Node<'static>),
}

impl PreDef {
    fn new(node: Node<'_>, loc: Loc) -> PreDef {
        let none = expr::Relax::default();
        let checked = match expr::meta_and_name(&node) {
            Err(_) => PreChecked::Recheck(node.into_owned()),
            Ok((meta, name)) => match expr::check_def(&node, meta, name, &loc, none) {
                Ok((def, _)) => PreChecked::Passed { def, needs: None },
                Err(strict) => match expr::check_def(&node, meta, name, &loc, expr::Relax::ALL) {
                    Ok((def, needs)) => {
                        let otherwise = if needs == expr::Relax::ALL {
                            Otherwise::Recheck(node.into_owned())
                        } else {
                            Otherwise::Fail(strict)
                        };
                        PreChecked::Passed {
                            def,
                            needs: Some((needs, otherwise)),
                        }
                    }
                    Err(_) => PreChecked::Recheck(node.into_owned()),
                },
            },
        };
        PreDef { loc, checked }
    }
}

fn parse_alone(path: String, text: String, style: doc::DocStyle) -> Parsed {
    let src = Arc::new(Source::new(path, text));
    let items = syntax::parse(&src).map(|tree| {
        let syntax::Tree { items, doc_lines } = tree;
        let mut out = Vec::with_capacity(items.len());
        // Items come in file order: each location is found by stepping
        // on from the last one, and one buffer holds the lines of every
        // doc block in turn.
        let mut cursor = src.cursor();
        let mut lines: Vec<doc::DocLine<'_>> = Vec::new();
        let mut scratch = doc::DocScratch::default();
        for item in items {
            match item {
                Item::Expr(node)
                    if node.as_dict().is_some()
                        && node.get("include").is_none()
                        && node.get("pragma").is_none() =>
                {
                    let loc = cursor.loc(node.pos);
                    out.push(ParsedItem::Def(Box::new(PreDef::new(node, loc))));
                }
                Item::Expr(node) => {
                    let loc = cursor.loc(node.pos);
                    out.push(ParsedItem::Expr(node.into_owned(), loc));
                }
                Item::Doc(block) => {
                    lines.clear();
                    // The splitter counted lines from the block's first.
                    let block_lines = doc_lines.get(block.lines.clone()).unwrap_or_default();
                    let (first, first_col) = block_lines
                        .first()
                        .map_or((0, 0), |l| cursor.line_col(l.pos));
                    lines.extend(block_lines.iter().map(|l| doc::DocLine {
                        text: l.text,
                        line: first + l.line,
                        col: if l.line == 0 { first_col } else { l.col },
                    }));
                    let end = cursor.loc(block.end);
                    let d = doc::parse_doc_in(&lines, block.closed, &end, style, &mut scratch);
                    let failed = d.is_err();
                    out.push(ParsedItem::Doc(d));
                    if failed {
                        break;
                    }
                }
            }
        }
        out
    });
    Parsed { src, items }
}

/// The files `parsed` includes, as paths joined onto its directory.
fn includes(parsed: &Parsed) -> impl Iterator<Item = String> + '_ {
    let items = parsed.items.as_deref().unwrap_or_default();
    items.iter().filter_map(|item| match item {
        ParsedItem::Expr(node, _) => {
            let name = node.get("include")?.as_str()?;
            Some(join_include(&parsed.src.path, name))
        }
        ParsedItem::Doc(_) | ParsedItem::Def(_) => None,
    })
}

/// A file for a worker to parse.
struct Job {
    id: usize,
    /// The prefetch that queued it: the files one file includes.
    batch: usize,
    path: String,
    text: String,
}

/// The files waiting for a worker, next first.
///
/// The files a file includes go ahead of those already waiting: the
/// loader needs them next (it walks includes depth first), and a large
/// file included by a small one (10.2's `block-core.json`, a quarter of
/// the schema, by `block.json`) would otherwise be parsed last, by one
/// worker while the others have nothing left to do.
#[derive(Default)]
struct JobQueue {
    state: Mutex<JobState>,
    changed: Condvar,
}

#[derive(Default)]
struct JobState {
    jobs: VecDeque<Job>,
    closed: bool,
}

impl JobQueue {
    /// The next job, waiting for one; `None` once the queue is closed.
    fn take(&self) -> Option<Job> {
        let mut state = self.state.lock().ok()?;
        loop {
            if let Some(job) = state.jobs.pop_front() {
                return Some(job);
            }
            if state.closed {
                return None;
            }
            state = self.changed.wait(state).ok()?;
        }
    }

    /// Puts `job` ahead of the waiting jobs of other batches, behind those
    /// of its own: a batch's files are queued as they are read, so that
    /// the first is being parsed while the loader reads the next.
    fn push_front(&self, job: Job) {
        if let Ok(mut state) = self.state.lock() {
            let at = state
                .jobs
                .iter()
                .take_while(|j| j.batch == job.batch)
                .count();
            state.jobs.insert(at, job);
        }
        self.changed.notify_one();
    }

    fn close(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.closed = true;
        }
        self.changed.notify_all();
    }
}

/// The names in what look like include directives in `text`: a line that
/// starts (after blanks) with `{ 'include': 'NAME'`. For reading ahead
/// only; see [`Loader::request`].
fn include_directives(text: &str) -> impl Iterator<Item = &str> {
    memchr::memmem::find_iter(text.as_bytes(), b"'include'").filter_map(move |at| {
        let line_start = memchr::memrchr(b'\n', &text.as_bytes()[..at]).map_or(0, |i| i + 1);
        let before = text.get(line_start..at)?.trim_matches([' ', '\t']);
        if before != "{" {
            return None;
        }
        let after = text
            .get(at + "'include'".len()..)?
            .trim_start_matches([' ', '\t']);
        let after = after.strip_prefix(':')?.trim_start_matches([' ', '\t']);
        let name = after.strip_prefix('\'')?;
        let end = name.find(['\'', '\n'])?;
        name.get(..end).filter(|_| name.as_bytes()[end] == b'\'')
    })
}

/// The worker threads' side of the loader: files sent to be parsed, and
/// what came back.
struct Pool<'q> {
    jobs: &'q JobQueue,
    done: mpsc::Receiver<Done>,
    /// Every file ever sent (or found unreadable), normalized.
    requested: HashSet<PathBuf>,
    /// Files sent and not yet taken by the loader: the job, or why the
    /// file could not be read.
    slots: HashMap<PathBuf, std::io::Result<usize>>,
    /// Parsed files not yet taken by the loader, by job.
    ready: HashMap<usize, Parsed>,
    next_id: usize,
}

impl Drop for Pool<'_> {
    /// Closes the queue, so that the workers end however the loader does.
    fn drop(&mut self) {
        self.jobs.close();
    }
}

/// A source file and where it was included from.
struct File {
    src: Arc<Source>,
    /// Its path, normalized: an include of it from a file it includes is
    /// a loop.
    abs: PathBuf,
    parent: Option<(usize, Loc)>,
}

/// A top-level definition before checking.
struct RawDef {
    def: Box<PreDef>,
    file: usize,
    doc: Option<doc::Doc>,
}

struct Loader<'r> {
    read: &'r mut dyn FnMut(&str) -> std::io::Result<String>,
    doc_style: doc::DocStyle,
    files: Files,
    included: HashSet<PathBuf>,
    pragma: Pragma,
    defs: Vec<RawDef>,
    free_docs: Vec<doc::Doc>,
    /// Set while worker threads parse included files.
    pool: Option<Pool<'r>>,
}

/// The absolute, lexically normalized form of a path, to recognise a file
/// included twice under different spellings.
fn normalize(path: &str) -> PathBuf {
    // Most paths are absolute and clean already (the loader joins include
    // names onto an absolute root); they are their own normal form.
    let clean = path.starts_with('/')
        && !path.ends_with('/')
        && !path.ends_with("/.")
        && !path.ends_with("/..")
        && !path.contains("//")
        && !path.contains("/./")
        && !path.contains("/../");
    if clean {
        return PathBuf::from(path);
    }
    normalize_any(path)
}

/// [`normalize`] without its shortcut: `path` made absolute, `.` and `..`
/// resolved lexically.
fn normalize_any(path: &str) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path));
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `dirname(including)` joined with `include`, as QEMU joins them.
fn join_include(including: &str, include: &str) -> String {
    if include.starts_with('/') {
        return include.to_owned();
    }
    match including.rfind('/') {
        Some(i) => format!("{}/{include}", &including[..i]),
        None => include.to_owned(),
    }
}

/// The files loaded so far, in load order.
#[derive(Default)]
struct Files(Vec<File>);

impl Files {
    /// Locates `err` (which names a file by path) in its file: source line
    /// and include chain.
    fn locate(&self, mut err: Error, file: usize) -> Error {
        if let Some(f) = self.0.get(file) {
            if err.source_line.is_none() {
                err.source_line = f.src.line_text(err.loc.line).map(str::to_owned);
            }
            let mut parent = f.parent.clone();
            while let Some((pi, loc)) = parent {
                err.included_from.push(loc);
                parent = self.0.get(pi).and_then(|p| p.parent.clone());
            }
        }
        err
    }

    fn sem(&self, loc: &Loc, file: usize, msg: impl Into<String>) -> Error {
        let e = self.0[file].src.error_at(loc.clone(), msg);
        self.locate(e, file)
    }

    /// Completes the checks of one definition that need no other
    /// definition: those that depend on its doc comment and on pragmas.
    /// Only checks: the definition stays where it is until
    /// [`Files::take_def`] moves it on, so that it is moved once.
    fn check_def(&self, raw: &RawDef, pragma: &Pragma) -> Result<(), Error> {
        let RawDef { def, file, doc } = raw;
        let (file, doc) = (*file, doc.as_ref());
        let PreDef { loc, checked } = &**def;
        let node = match checked {
            PreChecked::Passed { def, needs } => match needs {
                Some((needs, otherwise))
                    if !needs.within(expr::Relax::for_def(pragma, &def.name)) =>
                {
                    match otherwise {
                        Otherwise::Fail(f) => {
                            // The doc comment's errors come before the
                            // definition's own.
                            self.check_doc_link(doc, pragma, def.meta, &def.name, loc, file)?;
                            let defn = Some((def.meta, def.name.as_str()));
                            return Err(self.def_error(f.clone(), defn, loc, file));
                        }
                        Otherwise::Recheck(node) => node,
                    }
                }
                _ => return self.check_doc_link(doc, pragma, def.meta, &def.name, loc, file),
            },
            PreChecked::Recheck(node) => node,
        };
        self.recheck_def(node, loc, file, doc, pragma).map(drop)
    }

    /// The definition [`Files::check_def`] passed.
    fn take_def(
        &self,
        pre: Box<PreDef>,
        file: usize,
        doc: Option<&doc::Doc>,
        pragma: &Pragma,
    ) -> Result<expr::Def, Error> {
        let PreDef { loc, checked } = *pre;
        match checked {
            PreChecked::Passed { def, .. } => Ok(def),
            // Never after `check_def`: what needs checking again fails.
            PreChecked::Recheck(node) => self.recheck_def(&node, &loc, file, doc, pragma),
        }
    }

    /// [`Files::check_def`] for a definition checked again in full, so
    /// that the first error is reported as a one-pass check would.
    fn recheck_def(
        &self,
        node: &Node,
        loc: &Loc,
        file: usize,
        doc: Option<&doc::Doc>,
        pragma: &Pragma,
    ) -> Result<expr::Def, Error> {
        let (meta, name) =
            expr::meta_and_name(node).map_err(|f| self.def_error(f, None, loc, file))?;
        self.check_doc_link(doc, pragma, meta, name, loc, file)?;
        let relax = expr::Relax::for_def(pragma, name);
        let (def, _) = expr::check_def(node, meta, name, loc, relax)
            .map_err(|f| self.def_error(f, Some((meta, name)), loc, file))?;
        Ok(def)
    }

    /// Checks that a definition has the doc comment it needs, and that the
    /// comment is for it.
    fn check_doc_link(
        &self,
        doc: Option<&doc::Doc>,
        pragma: &Pragma,
        meta: &str,
        name: &str,
        loc: &Loc,
        file: usize,
    ) -> Result<(), Error> {
        if let Some(d) = doc
            && d.symbol.as_deref() != Some(name)
        {
            let sym = d.symbol.as_deref().unwrap_or_default();
            let m = format!("documentation comment is for '{sym}'");
            return Err(self.def_error((m, None), Some((meta, name)), loc, file));
        }
        if doc.is_none() && pragma.doc_required {
            let m = "documentation comment required".to_owned();
            return Err(self.def_error((m, None), Some((meta, name)), loc, file));
        }
        Ok(())
    }

    /// The error of a definition at `loc`, in the definition `defn`
    /// (meta-type and name) if known.
    fn def_error(
        &self,
        (message, help): expr::Fail,
        defn: Option<(&str, &str)>,
        loc: &Loc,
        file: usize,
    ) -> Error {
        let mut e = self.sem(loc, file, message);
        e.help = help;
        e.context = defn.map(|(meta, name)| format!("In {meta} '{name}':"));
        e
    }
}

impl Loader<'_> {
    fn locate(&self, err: Error, file: usize) -> Error {
        self.files.locate(err, file)
    }

    fn load(
        &mut self,
        parsed: Parsed,
        abs: PathBuf,
        parent: Option<(usize, Loc)>,
    ) -> Result<(), Error> {
        let file = self.files.0.len();
        let Parsed { src, items } = parsed;
        self.files.0.push(File {
            src: src.clone(),
            abs,
            parent,
        });
        let items = items.map_err(|e| self.locate(e, file))?;
        let mut cur_doc: Option<doc::Doc> = None;
        // Where the free-form doc block right before this item starts, if
        // the last doc block was one.
        let mut free_doc: Option<Loc> = None;
        for item in items {
            match item {
                ParsedItem::Doc(d) => {
                    self.reject_doc(cur_doc.take(), file)?;
                    let d = d.map_err(|e| self.locate(e, file))?;
                    if d.symbol.is_some() {
                        free_doc = None;
                        cur_doc = Some(d);
                    } else {
                        free_doc = Some(d.loc.clone());
                        self.free_docs.push(d);
                    }
                }
                ParsedItem::Def(def) => {
                    // The doc block right before a definition documents it:
                    // a free-form one there is a definition's doc without
                    // its `@NAME:` line.
                    if let Some(at) = free_doc.take() {
                        return Err(self.sem(&at, file, "definition documentation required"));
                    }
                    self.defs.push(RawDef {
                        def,
                        file,
                        doc: cur_doc.take(),
                    });
                }
                // Objects other than directives are definitions (above).
                ParsedItem::Expr(node, loc) => {
                    free_doc = None;
                    if let Some(inc) = node.get("include") {
                        self.reject_doc(cur_doc.take(), file)?;
                        self.include(&node, inc, &loc, file)?;
                    } else if let Some(pragma) = node.get("pragma") {
                        self.reject_doc(cur_doc.take(), file)?;
                        if node.as_dict().is_some_and(|d| d.len() != 1) {
                            return Err(self.sem(&loc, file, "invalid 'pragma' directive"));
                        }
                        self.pragma(pragma, &loc, file)?;
                    } else {
                        return Err(self.locate(
                            src.error_at(loc, "top-level expression must be an object"),
                            file,
                        ));
                    }
                }
            }
        }
        self.reject_doc(cur_doc, file)
    }

    /// The parsed file at `path`: from the workers if it was sent to them,
    /// else read and parsed here.
    fn fetch(&mut self, path: &str, abs: &Path) -> std::io::Result<Parsed> {
        if let Some(pool) = &mut self.pool
            && let Some(slot) = pool.slots.remove(abs)
        {
            let id = slot?;
            loop {
                let pool = self.pool.as_mut().expect("pool is set");
                if let Some(parsed) = pool.ready.remove(&id) {
                    return Ok(parsed);
                }
                // Workers stop only when the loader has gone, so every job
                // sent has its answer coming.
                let (got, parsed) = pool.done.recv().expect("parser threads are running");
                let parsed = parsed.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                self.prefetch(&parsed);
                let pool = self.pool.as_mut().expect("pool is set");
                pool.ready.insert(got, parsed);
            }
        }
        let text = (self.read)(path)?;
        let parsed = parse_alone(path.to_owned(), text, self.doc_style);
        self.prefetch(&parsed);
        Ok(parsed)
    }

    /// Sends the files `parsed` includes to the workers, if there are any,
    /// so that they are parsed by the time the loader reaches them.
    fn prefetch(&mut self, parsed: &Parsed) {
        if self.pool.is_none() {
            return;
        }
        let batch = self.pool.as_ref().map_or(0, |p| p.next_id);
        for path in includes(parsed) {
            self.request(path, batch);
        }
    }

    /// Reads the file at `path` and queues it for the workers, unless it
    /// was already; then, the same way, the files its text names in
    /// include directives.
    ///
    /// Those are found by a glance at the text, not by parsing it: a
    /// file's includes are otherwise known only once a worker has parsed
    /// it and this thread, which competes with the workers for the cores,
    /// has been woken to look (10.2's `block-core.json`, a quarter of the
    /// schema, is included by `block.json`). A name the glance gets wrong
    /// costs a read; the includes that count are the parsed ones.
    fn request(&mut self, path: String, batch: usize) {
        let Some(pool) = &mut self.pool else { return };
        let abs = normalize(&path);
        if !pool.requested.insert(abs.clone()) {
            return;
        }
        let mut named = Vec::new();
        let slot = (self.read)(&path).map(|text| {
            named.extend(include_directives(&text).map(|name| join_include(&path, name)));
            let id = pool.next_id;
            pool.next_id += 1;
            pool.jobs.push_front(Job {
                id,
                batch,
                path,
                text,
            });
            id
        });
        pool.slots.insert(abs, slot);
        for path in named {
            self.request(path, batch);
        }
    }

    fn sem(&self, loc: &Loc, file: usize, msg: impl Into<String>) -> Error {
        self.files.sem(loc, file, msg)
    }

    fn reject_doc(&self, doc: Option<doc::Doc>, file: usize) -> Result<(), Error> {
        match doc {
            Some(d) => {
                let sym = d.symbol.as_deref().unwrap_or_default();
                Err(self.sem(
                    &d.loc,
                    file,
                    format!("documentation for '{sym}' is not followed by the definition"),
                ))
            }
            None => Ok(()),
        }
    }

    fn include(&mut self, node: &Node, inc: &Node, loc: &Loc, file: usize) -> Result<(), Error> {
        if node.as_dict().is_some_and(|d| d.len() != 1) {
            return Err(self.sem(loc, file, "invalid 'include' directive"));
        }
        let Some(name) = inc.as_str() else {
            return Err(self.sem(loc, file, "value of 'include' must be a string"));
        };
        let path = join_include(&self.files.0[file].src.path, name);
        let abs = normalize(&path);
        // A file including itself, directly or through others, is a loop.
        let mut cur = Some(file);
        while let Some(c) = cur {
            if self.files.0[c].abs == abs {
                return Err(self.sem(loc, file, format!("inclusion loop for {name}")));
            }
            cur = self.files.0[c].parent.as_ref().map(|(p, _)| *p);
        }
        if !self.included.insert(abs.clone()) {
            return Ok(());
        }
        let parsed = match self.fetch(&path, &abs) {
            Ok(p) => p,
            Err(e) => {
                return Err(self.sem(
                    loc,
                    file,
                    format!("can't read include file '{path}': {}", error::io_reason(&e)),
                ));
            }
        };
        self.load(parsed, abs, Some((file, loc.clone())))
    }

    fn pragma(&mut self, value: &Node, loc: &Loc, file: usize) -> Result<(), Error> {
        let Some(dict) = value.as_dict() else {
            return Err(self.sem(loc, file, "value of 'pragma' must be an object"));
        };
        for (name, v) in dict {
            let list = |this: &Self| -> Result<Vec<String>, Error> {
                match &v.value {
                    Value::List(items) => items
                        .iter()
                        .map(|i| i.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>(),
                    _ => None,
                }
                .ok_or_else(|| {
                    this.sem(
                        loc,
                        file,
                        format!("pragma {name} must be a list of strings"),
                    )
                })
            };
            match name.as_ref() {
                "doc-required" => match v.value {
                    Value::Bool(b) => self.pragma.doc_required = b,
                    _ => {
                        return Err(self.sem(loc, file, "pragma 'doc-required' must be boolean"));
                    }
                },
                "command-name-exceptions" => self.pragma.command_name_exceptions = list(self)?,
                "command-returns-exceptions" => {
                    self.pragma.command_returns_exceptions = list(self)?
                }
                "documentation-exceptions" => self.pragma.documentation_exceptions = list(self)?,
                "member-name-exceptions" => self.pragma.member_name_exceptions = list(self)?,
                _ => return Err(self.sem(loc, file, format!("unknown pragma '{name}'"))),
            }
        }
        Ok(())
    }

    fn sem_error(&self, e: schema::SemError) -> Error {
        let file = self.files.0.iter().position(|f| *f.src.path == *e.loc.file);
        let mut err = Error::new(e.loc, e.message);
        // QEMU puts "previous definition" on a line of its own.
        if let Some((first, rest)) = err.message.clone().split_once('\n') {
            err.help = Some(rest.to_owned());
            err.message = first.to_owned();
        }
        err.context = e.context;
        match file {
            Some(f) => self.locate(err, f),
            None => err,
        }
    }

    fn check(mut self) -> Result<Schema, Error> {
        let defs = std::mem::take(&mut self.defs);
        let pragma = self.pragma.clone();
        // The first error in definition order wins, as in a one-thread walk:
        // every definition passes these checks before any is defined.
        for raw in &defs {
            self.files.check_def(raw, &pragma)?;
        }
        let builder_pragma = pragma.clone();
        let mut builder = schema::Builder::new(&builder_pragma, defs.len());
        // The documented definitions' entities, and their files.
        let mut documented = Vec::with_capacity(defs.len());
        for raw in defs {
            let RawDef { def, file, doc } = raw;
            let def = self.files.take_def(def, file, doc.as_ref(), &pragma)?;
            let has_doc = doc.is_some();
            // The doc goes with its definition now, to be checked once the
            // schema is (an error discards the whole schema anyway).
            let i = builder.define(def, doc).map_err(|e| self.sem_error(e))?;
            if has_doc {
                documented.push((i, file));
            }
        }
        builder.check().map_err(|e| self.sem_error(e))?;
        let strict = self.doc_style == doc::DocStyle::STRICT;
        // Looked up for every documented definition: hashed once.
        let doc_exceptions: hash::NameSet<&str> = pragma
            .documentation_exceptions
            .iter()
            .map(String::as_str)
            .collect();
        // The same two buffers serve every definition's doc check, rather
        // than two new vectors each.
        let mut members = Vec::new();
        let mut features = Vec::new();
        for &(i, file) in &documented {
            let Some(d) = builder.doc(i) else { continue };
            let has_returns = builder.doc_subjects(i, &mut members, &mut features);
            let (meta, name) = (builder.meta(i), builder.name(i));
            let target = doc::DocTarget {
                meta,
                name,
                loc: builder.loc(i),
                members: std::mem::take(&mut members),
                features: std::mem::take(&mut features),
                has_returns,
                doc_required: pragma.doc_required,
                // Releases before the 'documentation-exceptions' pragma
                // did not require member documentation at all.
                strict,
                exception: doc_exceptions.is_empty() || doc_exceptions.contains(name),
            };
            let checked = doc::check_doc(d, &target);
            (members, features) = (target.members, target.features);
            if let Err(e) = checked {
                let mut e = self.files.locate(e, file);
                e.context = Some(format!("In {meta} '{name}':"));
                return Err(e);
            }
        }
        let files = self
            .files
            .0
            .iter()
            .map(|f| f.src.path.to_string())
            .collect();
        Ok(builder.finish(pragma, self.free_docs, files))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::Entity;

    /// Parses `text` as a one-file schema.
    fn parse(text: &str) -> Result<Schema, Error> {
        parse_with("t.json", &Options::default(), &mut |p: &str| {
            if p == "t.json" {
                Ok(text.to_owned())
            } else {
                Err(std::io::Error::from(std::io::ErrorKind::NotFound))
            }
        })
    }

    /// The condition of entity `name`, rendered, or the error.
    fn cond_of(text: &str, name: &str) -> String {
        match parse(text) {
            Ok(s) => s
                .get(name)
                .and_then(|e| e.info().cond.as_ref())
                .map_or("-".to_owned(), ToString::to_string),
            Err(e) => format!("{}: {}", e.loc, e.message),
        }
    }

    #[test]
    fn conditions() {
        let cases = [
            ("'A'", "A"),
            ("{'all': ['A', 'B']}", "(A && B)"),
            ("{'any': ['A', {'not': 'B'}]}", "(A || !B)"),
            (
                "{'not': {'all': ['A', {'any': ['B', {'not': {'all': ['C', 'D']}}]}]}}",
                "!(A && (B || !(C && D)))",
            ),
            ("'defined(A) && !defined(B)'", "(A && !B)"),
            (
                "'a'",
                "t.json:1:1: 'if' condition 'a' of struct is not a valid identifier",
            ),
            (
                "{'all': []}",
                "t.json:1:1: 'if' condition [] of struct is useless",
            ),
            (
                "{'all': 'A'}",
                "t.json:1:1: 'all' condition of struct must be an array",
            ),
            (
                "{'all': ['A'], 'any': ['B']}",
                "t.json:1:1: 'if' condition of struct has conflicting keys",
            ),
            (
                "['A']",
                "t.json:1:1: 'if' condition of struct must be a string or an object",
            ),
        ];
        for (cond, want) in cases {
            let text = format!("{{ 'struct': 'Sx', 'data': {{}}, 'if': {cond} }}");
            assert_eq!(cond_of(&text, "Sx"), want, "{cond}");
        }
    }

    #[test]
    fn member_conditions_reach_the_model() {
        let s = parse(
            "{ 'enum': 'Ex', 'data': [ 'a', { 'name': 'b', 'if': 'HAVE_B' } ] }\n\
             { 'struct': 'Sx', 'data': { 'x': { 'type': 'int', 'if': { 'not': 'NO_X' } } } }",
        )
        .expect("valid");
        let Some(Entity::Enum(e)) = s.get("Ex") else {
            panic!("E")
        };
        assert_eq!(
            e.values[1].cond.as_ref().map(ToString::to_string),
            Some("HAVE_B".into())
        );
        let o = s.object("Sx").expect("S");
        assert_eq!(
            o.members[0].cond.as_ref().map(ToString::to_string),
            Some("!NO_X".into())
        );
    }

    #[test]
    fn simple_union_is_desugared() {
        let s = parse(
            "{ 'enum': 'Key', 'data': [ 'a', 'b' ] }\n\
             { 'union': 'KeyValue', 'data': { 'number': 'int', 'qcode': 'Key', 'many': ['Key'] } }",
        )
        .expect("valid");
        let u = s.object("KeyValue").expect("union");
        let v = u.variants.as_ref().expect("branches");
        assert_eq!(
            (v.discriminator.as_str(), v.tag_type.as_str()),
            ("type", "KeyValueKind")
        );
        let branches: Vec<_> = v
            .variants
            .iter()
            .map(|b| (b.name.as_str(), b.ty.as_str()))
            .collect();
        assert_eq!(
            branches,
            [
                ("number", "q_obj_int-wrapper"),
                ("qcode", "q_obj_Key-wrapper"),
                ("many", "q_obj_KeyList-wrapper")
            ]
        );
        let w = s.object("q_obj_KeyList-wrapper").expect("wrapper");
        assert_eq!(
            (w.members[0].name.as_str(), w.members[0].ty.name()),
            ("data", "KeyList".into())
        );
        // Simple unions are not counted as structs; their wrappers are implicit.
        assert_eq!(s.counts().unions, 1);
        assert_eq!(s.counts().structs, 0);
    }

    #[test]
    fn docs_and_examples_attach_to_definitions() {
        let s = parse(
            "##\n# @query-x:\n#\n# Query x.\n#\n# @arg: the argument\n#\n# Since: 9.1\n#\n\
             # .. qmp-example::\n#\n#     -> { \"execute\": \"query-x\", \"arguments\": { \"arg\": 1 } }\n\
             #     <- { \"return\": {} }\n##\n\
             { 'command': 'query-x', 'data': { 'arg': 'int' } }",
        )
        .expect("valid");
        let doc = s
            .get("query-x")
            .and_then(|e| e.info().doc.as_ref())
            .expect("doc");
        assert_eq!(doc.since(), Some("9.1"));
        assert_eq!(
            doc.member("arg").map(|m| m.text.as_str()),
            Some("the argument")
        );
        let msgs: Vec<_> = doc
            .examples
            .iter()
            .flat_map(|e| &e.messages)
            .map(|m| m.json.as_str())
            .collect();
        assert_eq!(
            msgs,
            [
                r#"{ "execute": "query-x", "arguments": { "arg": 1 } }"#,
                r#"{ "return": {} }"#
            ]
        );
    }

    /// Pragmas relax a definition's own name and its members' names; a
    /// definition checked before the pragmas were known passes or fails,
    /// with the error a one-pass check gives, for every combination.
    #[test]
    fn pragmas_relax_exactly_what_they_name() {
        let check = |pragma: &str, def: &str| match parse(&format!(
            "{{ 'pragma': {{ {pragma} }} }}\n{def}"
        )) {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("{}: {}", e.context.clone().unwrap_or_default(), e.message),
        };
        let both = "{ 'command': 'my_cmd', 'data': { 'Bad_m': 'int' } }";
        let name = "{ 'command': 'my_cmd' }";
        let members = "{ 'struct': 'Sx', 'data': { 'Bad_m': 'int' } }";
        let hopeless = "{ 'command': 'my_cmd', 'data': { 'Bad_m': 'int', 'x': true } }";
        let cmd = "'command-name-exceptions': ['my_cmd']";
        let mem = "'member-name-exceptions': ['my_cmd', 'Sx']";
        let all = "'command-name-exceptions': ['my_cmd'], \
                   'member-name-exceptions': ['my_cmd', 'Sx']";
        let name_err = "In command 'my_cmd':: name of command must not use uppercase or '_'";
        let cases = [
            ("", both, name_err),
            (
                cmd,
                both,
                "In command 'my_cmd':: name of 'data' member 'Bad_m' must not use uppercase or '_'",
            ),
            (mem, both, name_err),
            (all, both, "ok"),
            ("", name, name_err),
            (mem, name, name_err),
            (cmd, name, "ok"),
            (
                "",
                members,
                "In struct 'Sx':: name of 'data' member 'Bad_m' must not use uppercase or '_'",
            ),
            (
                cmd,
                members,
                "In struct 'Sx':: name of 'data' member 'Bad_m' must not use uppercase or '_'",
            ),
            (mem, members, "ok"),
            ("", hopeless, name_err),
            (
                cmd,
                hopeless,
                "In command 'my_cmd':: name of 'data' member 'Bad_m' must not use uppercase or '_'",
            ),
            (
                all,
                hopeless,
                "In command 'my_cmd':: 'data' member 'x' should be a type name or array",
            ),
        ];
        for (pragma, def, want) in cases {
            assert_eq!(check(pragma, def), want, "{pragma} {def}");
        }
    }

    #[test]
    fn free_form_doc_right_before_a_definition_is_refused() {
        let err = |text: &str| {
            parse(text)
                .err()
                .map(|e| format!("{}:{}: {}", e.loc.line, e.loc.col, e.message))
        };
        // Blank lines and plain comments in between do not separate them;
        // the error is at the doc block.
        assert_eq!(
            err(
                "{ 'enum': 'E', 'data': [] }\n\n##\n# Free text.\n##\n\n# plain\n\n\
                 { 'enum': 'F', 'data': [] }"
            )
            .as_deref(),
            Some("3:1: definition documentation required")
        );
        // Free-form blocks before another block, a directive or the end
        // of the file are fine.
        assert_eq!(
            err(
                "##\n# = Title\n##\n\n##\n# @Colour:\n##\n{ 'enum': 'Colour', 'data': [] }\n\
                 ##\n# End\n##"
            ),
            None
        );
        assert_eq!(
            err("##\n# Text\n##\n{ 'pragma': { 'doc-required': false } }\n\
                 { 'enum': 'Colour', 'data': [] }"),
            None
        );
    }

    #[test]
    fn errors_in_included_files_name_the_chain() {
        let mut read = |p: &str| match p {
            "dir/root.json" => Ok("{ 'include': 'sub/a.json' }".to_owned()),
            "dir/sub/a.json" => Ok("\n{ 'include': 'b.json' }".to_owned()),
            "dir/sub/b.json" => Ok("{ 'struct': 'Sx', 'data': { 'm': 'itn' } }".to_owned()),
            _ => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
        };
        let e = parse_with("dir/root.json", &Options::default(), &mut read).expect_err("invalid");
        let text = e.to_string();
        let want = "dir/sub/b.json:1:1: member 'm' uses unknown type 'itn'\n  In struct 'Sx':\n  \
                    in file included from dir/sub/a.json:2:1\n  in file included from dir/root.json:1:1";
        assert!(text.starts_with(want), "{text}");
        assert!(
            text.ends_with("1 | { 'struct': 'Sx', 'data': { 'm': 'itn' } }\n  | ^"),
            "{text}"
        );
    }

    /// Reading ahead glances at lines that open with an include directive,
    /// and at nothing else.
    #[test]
    fn include_directives_are_found_at_line_starts() {
        let text = "{ 'include': 'a.json' }\n\
                    \t{'include' :'sub/b.json'}\n\
                    # { 'include': 'comment.json' }\n\
                    { 'struct': 'S', 'data': { 'include': 'str' } }\n\
                    { 'include': 'open\n\
                    { 'include': 'last.json' }";
        let found: Vec<&str> = include_directives(text).collect();
        assert_eq!(found, ["a.json", "sub/b.json", "last.json"]);
    }

    /// The shortcut for clean absolute paths gives what the general way
    /// gives.
    #[test]
    fn normalize_takes_clean_paths_as_they_are() {
        for p in [
            "/a/b.json",
            "/a/b/../c.json",
            "/a/./b.json",
            "/a//b.json",
            "/a/b/..",
            "/a/b/.",
            "/a/b/",
            "rel/../x.json",
            "./x.json",
            "/",
        ] {
            assert_eq!(normalize(p), normalize_any(p), "{p}");
        }
    }

    /// Of several definitions whose docs fail their checks, the first is
    /// reported, wherever it is among them.
    #[test]
    fn doc_checks_report_the_first_failure() {
        let def = |name: &str, doc_member: &str| {
            format!(
                "##\n# @{name}:\n#\n# @{doc_member}: text\n##\n\
                 {{ 'struct': '{name}', 'data': {{ 'x': 'int' }} }}\n"
            )
        };
        let schema = |bad: &[usize]| {
            let mut a = String::new();
            for i in 0..40 {
                let member = if bad.contains(&i) { "nope" } else { "x" };
                a.push_str(&def(&format!("Type{i}"), member));
            }
            let files: HashMap<&str, String> = [
                ("root.json", "{ 'include': 'a.json' }".to_owned()),
                ("a.json", a),
            ]
            .into();
            let mut read = |p: &str| {
                files
                    .get(p)
                    .cloned()
                    .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
            };
            parse_with("root.json", &Options::default(), &mut read)
        };
        assert!(schema(&[]).is_ok());
        for (bad, first) in [
            (&[3, 30][..], "Type3"),
            (&[30, 35][..], "Type30"),
            (&[39][..], "Type39"),
        ] {
            let e = schema(bad).expect_err("a documented member that does not exist");
            let context = e.context.clone().unwrap_or_default();
            assert_eq!(context, format!("In struct '{first}':"), "{e}");
        }
    }

    /// Included files are parsed on worker threads, in any order; what is
    /// reported is still the first problem in include order, and the read
    /// callback sees each file once.
    #[test]
    fn parallel_loading_reports_in_include_order() {
        let big_bad = format!(
            "{}{{ 'struct': 'A', 'data': {{ 'm': nope }} }}",
            "{ 'struct': 'Pad', 'data': { 'x': 'int' } }\n".repeat(2000)
        );
        let files: HashMap<&str, String> = [
            (
                "root.json",
                "{ 'include': 'a.json' }\n{ 'include': 'b.json' }\n\
                 { 'include': 'a.json' }\n{ 'include': 'missing.json' }"
                    .to_owned(),
            ),
            // b.json's syntax error is found long before the one at the
            // end of a.json, but a.json comes first.
            ("a.json", big_bad),
            ("b.json", "{ 'include': 'a.json' }\n{ 'struct': ".to_owned()),
        ]
        .into();
        // The error, and the files read in order.
        let load = |files: &HashMap<&str, String>| {
            let mut reads = Vec::new();
            let mut read = |p: &str| {
                reads.push(p.to_owned());
                files
                    .get(p)
                    .cloned()
                    .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
            };
            let e = parse_with("root.json", &Options::default(), &mut read).expect_err("invalid");
            (e, reads)
        };
        let (e, reads) = load(&files);
        assert_eq!(e.loc.file.as_ref(), "a.json", "{e}");
        assert_eq!(e.loc.line, 2001, "{e}");
        let mut sorted = reads.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            reads.len(),
            "a file was read twice: {reads:?}"
        );

        // Without a.json's error, b.json's is next; the
        // missing file after it is never reached.
        let fixed: HashMap<&str, String> = files
            .iter()
            .map(|(k, v)| (*k, v.replace("nope", "'int'")))
            .collect();
        let (e, _) = load(&fixed);
        assert_eq!(e.loc.file.as_ref(), "b.json", "{e}");
    }
}
