//! The checked form of a script: every command and test known, its arguments typed,
//! every extension it uses required. The interpreter ([`crate::interp`]) walks this.

/// A string from the script; with the variables extension it may hold `${...}`
/// references, expanded at run time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VStr {
    pub text: String,
    /// Whether the text must be expanded (variables required and `${` present).
    pub vars: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Octet,
    AsciiCasemap,
    UnicodeCasemap,
    AsciiNumeric,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rel {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchType {
    Is,
    Contains,
    Matches,
    Regex,
    Value(Rel),
    Count(Rel),
    /// extlists: the keys name lists.
    List,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    pub cmp: Cmp,
    pub mt: MatchType,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrPart {
    All,
    Local,
    Domain,
    User,
    Detail,
}

/// `:index N [:last]` (RFC 5260 §6); N counts from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Index {
    pub n: u64,
    pub last: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyTransform {
    Raw,
    Text,
    /// `:content` with these types (kept in the test).
    Content,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Zone {
    /// The local zone of the server (currentdate default; date with neither tag).
    Local,
    /// `:zone "+0100"`.
    Fixed(VStr),
    /// `:originalzone`: the zone written in the header.
    Original,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DupSource {
    MessageId,
    Header(VStr),
    UniqueId(VStr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Test {
    True,
    False,
    Not(Box<Test>),
    AllOf(Vec<Test>),
    AnyOf(Vec<Test>),
    Exists(Vec<VStr>),
    Size { over: bool, limit: u64 },
    Header { m: Match, names: Vec<VStr>, keys: Vec<VStr>, index: Option<Index> },
    Address { m: Match, part: AddrPart, names: Vec<VStr>, keys: Vec<VStr>, index: Option<Index> },
    Envelope { m: Match, part: AddrPart, names: Vec<VStr>, keys: Vec<VStr> },
    Body { m: Match, transform: BodyTransform, types: Vec<VStr>, keys: Vec<VStr> },
    String { m: Match, sources: Vec<VStr>, keys: Vec<VStr> },
    Date { m: Match, zone: Zone, name: VStr, part: VStr, keys: Vec<VStr>, index: Option<Index> },
    CurrentDate { m: Match, zone: Zone, part: VStr, keys: Vec<VStr> },
    HasFlag { m: Match, vars: Vec<VStr>, keys: Vec<VStr> },
    MailboxExists(Vec<VStr>),
    Metadata { m: Match, mailbox: VStr, annotation: VStr, keys: Vec<VStr> },
    MetadataExists { mailbox: VStr, annotations: Vec<VStr> },
    ServerMetadata { m: Match, annotation: VStr, keys: Vec<VStr> },
    ServerMetadataExists(Vec<VStr>),
    Duplicate { handle: Option<VStr>, source: DupSource, seconds: Option<u64>, last: bool },
    Environment { m: Match, name: VStr, keys: Vec<VStr> },
    Ihave(Vec<String>),
    ValidNotifyMethod(Vec<VStr>),
    NotifyMethodCapability { m: Match, uri: VStr, capability: VStr, keys: Vec<VStr> },
    SpecialUseExists { mailbox: Option<VStr>, uses: Vec<VStr> },
    ValidExtList(Vec<VStr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagOp {
    Set,
    Add,
    Remove,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Modifier {
    Lower,
    Upper,
    LowerFirst,
    UpperFirst,
    QuoteWildcard,
    QuoteRegex,
    EncodeUrl,
    Length,
}

impl Modifier {
    /// RFC 5229 §4.1 precedence (higher applied first).
    pub fn precedence(self) -> u8 {
        match self {
            Modifier::Lower | Modifier::Upper => 40,
            Modifier::LowerFirst | Modifier::UpperFirst => 30,
            Modifier::QuoteWildcard | Modifier::QuoteRegex => 20,
            Modifier::EncodeUrl => 15,
            Modifier::Length => 10,
        }
    }
}

/// Where a copy goes (`:fcc` of vacation and notify, RFC 8580), and the mailbox
/// arguments fileinto shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub mailbox: VStr,
    pub create: bool,
    pub flags: Option<Vec<VStr>>,
    pub specialuse: Option<VStr>,
    pub mailboxid: Option<VStr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vacation {
    /// The response period in seconds (`:days` × 86400 or `:seconds`).
    pub period: Option<u64>,
    pub subject: Option<VStr>,
    pub from: Option<VStr>,
    pub addresses: Vec<VStr>,
    pub mime: bool,
    pub handle: Option<VStr>,
    pub reason: VStr,
    pub fcc: Option<Target>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notify {
    pub method: VStr,
    pub from: Option<VStr>,
    pub importance: Option<VStr>,
    pub options: Vec<VStr>,
    pub message: Option<VStr>,
    pub fcc: Option<Target>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub address: VStr,
    pub copy: bool,
    /// extlists: the address names a list.
    pub list: bool,
    /// redirect-dsn: `:notify` and `:ret`.
    pub notify: Option<VStr>,
    pub ret: Option<VStr>,
    /// redirect-deliverby: `:bytimerelative`/`:bytimeabsolute`, `:bymode`, `:bytrace`.
    pub by_time: Option<VStr>,
    pub by_relative: bool,
    pub by_mode: Option<VStr>,
    pub by_trace: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cmd {
    If { branches: Vec<(Test, Vec<Cmd>)>, otherwise: Option<Vec<Cmd>> },
    Stop,
    Keep { flags: Option<Vec<VStr>> },
    Discard,
    FileInto { target: Target, copy: bool },
    Redirect(Box<Redirect>),
    Reject { reason: VStr, extended: bool },
    Vacation(Box<Vacation>),
    Flags { op: FlagOp, var: Option<VStr>, flags: Vec<VStr> },
    Set { name: String, value: VStr, mods: Vec<Modifier> },
    Include { name: VStr, global: bool, once: bool, optional: bool },
    Return,
    Global(Vec<String>),
    Notify(Box<Notify>),
    AddHeader { last: bool, name: VStr, value: VStr },
    DeleteHeader { index: Option<Index>, m: Match, name: VStr, values: Vec<VStr> },
    Error(VStr),
}
