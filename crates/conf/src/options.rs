//! The one table of every imapd.conf option the suite reads.
//!
//! Each entry gives the name, the type (which fixes how a value is checked when the
//! file is loaded), the default as it would be written in imapd.conf, and a one-line
//! description. `man/imapd.conf.5` is generated from this table (`cargo run -p conf
//! --bin gen-imapd-conf-man`) and a test fails when the two disagree.
//!
//! A name ending in `-` is a prefix: `partition-` stands for `partition-NAME`.
//! Add an option here in the same commit as the code that reads it.

/// How an option's value is written and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Any text.
    Str,
    /// yes/no, on/off, true/false, t/f, 1/0.
    Bool,
    /// A signed decimal integer.
    Int,
    /// A number with units d, h, m, s (summed: `1h30m`); a bare number is in the
    /// given default unit (`'s'`, `'m'`, `'h'` or `'d'`).
    Duration(char),
    /// One of the listed words (compared without case).
    Enum(&'static [&'static str]),
    /// Whitespace-separated words, each one of the listed ones (empty list: any word).
    List(&'static [&'static str]),
}

/// One row of the table.
#[derive(Debug)]
pub struct OptDef {
    pub name: &'static str,
    pub kind: Kind,
    /// The default, written as in imapd.conf; `None` means no default (unset).
    pub default: Option<&'static str>,
    pub desc: &'static str,
}

impl OptDef {
    /// True for a prefix entry such as `partition-`.
    pub fn is_prefix(&self) -> bool {
        self.name.ends_with('-') || self.name.ends_with('_')
    }
}

const FACILITIES: &[&str] = &[
    "DAEMON", "MAIL", "NEWS", "USER", "LOCAL0", "LOCAL1", "LOCAL2", "LOCAL3", "LOCAL4",
    "LOCAL5", "LOCAL6", "LOCAL7",
];

const TLS_VERSIONS: &[&str] = &["tls1_0", "tls1_1", "tls1_2", "tls1_3"];

const META_FILES: &[&str] = &[
    "header", "index", "cache", "expunge", "squat", "annotations", "lock", "dav",
    "archivecache",
];

/// The words `sieve_extensions` takes: Cyrus 3.6's (with its aliases), and the names of
/// the extensions Cyrus enables along with another word (`reject` also gives
/// `ereject`, `notify` also `enotify`).
const SIEVE_EXTENSION_WORDS: &[&str] = &[
    "fileinto", "reject", "ereject", "vacation", "vacation-seconds", "notify", "enotify",
    "include", "envelope", "environment", "body", "relational", "regex", "subaddress",
    "copy", "date", "index", "imap4flags", "imapflags", "mailbox", "mboxmetadata",
    "servermetadata", "variables", "editheader", "extlists", "duplicate", "ihave", "fcc",
    "special-use", "redirect-dsn", "redirect-deliverby", "mailboxid", "encoded-character",
    "vnd.cyrus.log", "x-cyrus-log", "vnd.cyrus.jmapquery", "x-cyrus-jmapquery",
    "vnd.cyrus.imip", "snooze", "vnd.cyrus.snooze", "x-cyrus-snooze",
];

/// Every option the suite reads, sorted by name.
pub const OPTIONS: &[OptDef] = &[
    OptDef {
        name: "admins",
        kind: Kind::List(&[]),
        default: Some(""),
        desc: "Userids with administrative rights, separated by spaces. As in Cyrus, an admin has the l and a rights on every mailbox besides what its ACL gives (so it may list, create, delete, rename and set ACLs and quotas, but reads a user's mail only when an ACL lets it). With virtdomains, an admin written with a domain (admin@example.org) administers that domain only and cannot reach another; one without a domain administers every domain.",
    },
    OptDef {
        name: "allowanonymouslogin",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "Lets nntpd serve clients that do not log in, as the user anonymous (ACL identifiers anonymous and anyone), and accept AUTHINFO USER anonymous with any password.",
    },
    OptDef {
        name: "allowapop",
        kind: Kind::Bool,
        default: Some("yes"),
        desc: "Offer POP3 APOP (a challenge in the greeting; secrets from libsasl2's auxprop, such as sasldb) when libsasl2 can check it.",
    },
    OptDef {
        name: "allownewnews",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "Allows NNTP NEWNEWS (a scan of the matching groups' indexes since the given time); otherwise it answers 503.",
    },
    OptDef {
        name: "allowplaintext",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "Allow passwords in the clear (LOGIN, USER/PASS, AUTH PLAIN/LOGIN) without TLS.",
    },
    OptDef {
        name: "altnamespace",
        kind: Kind::Bool,
        default: Some("yes"),
        desc: "Show a user's folders at the top level beside INBOX, other users' under userprefix and shared ones under sharedprefix.",
    },
    OptDef {
        name: "annotation_allow_undefined",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "Allow METADATA values for entries neither Cyrus nor annotation_definitions defines.",
    },
    OptDef {
        name: "annotation_definitions",
        kind: Kind::Str,
        default: None,
        desc: "File of extra METADATA entry definitions, one per line: name, scope, attrib-type, proxy-type, attrib-names, acl (Cyrus's format; message-scope lines are ignored).",
    },
    OptDef {
        name: "annotation_maxentries",
        kind: Kind::Int,
        default: Some("1000"),
        desc: "Suite extension: most METADATA values one user (or the shared set) may keep on one mailbox or the server; SETMETADATA past it is refused with NO [METADATA TOOMANY]. 0: no limit.",
    },
    OptDef {
        name: "annotation_maxsize",
        kind: Kind::Int,
        default: Some("65536"),
        desc: "Suite extension: largest METADATA value, in bytes; a larger one is refused with NO [METADATA MAXSIZE n]. 0: no limit.",
    },
    OptDef {
        name: "anysievefolder",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "A Sieve fileinto may create any folder of the user that does not exist (as if :create were given).",
    },
    OptDef {
        name: "auth_mech",
        kind: Kind::Enum(&["unix", "pts", "krb", "krb5"]),
        default: Some("unix"),
        desc: "Where group:NAME identifiers of ACLs find their members. unix (the default, as in Cyrus): the system group database (getgrent: /etc/group or NSS), a user being a member when the group is its primary one or lists its full userid. pts: the directory, asked by the ptloader service (cyrus.conf) with the ldap_* options (pts_module ldap) and cached for ptscache_timeout. krb/krb5 are not built: with them group: entries match nobody, and a warning is logged.",
    },
    OptDef {
        name: "autocreate_acl",
        kind: Kind::Str,
        default: None,
        desc: "FOLDER IDENTIFIER RIGHTS: when FOLDER (one of autocreate_inbox_folders) is autocreated, IDENTIFIER gets RIGHTS on it (autocreate_acl Plus anyone p lets LMTP deliver to user+Plus). May be given on several lines, each adding an entry.",
    },
    OptDef {
        name: "autocreate_inbox_folders",
        kind: Kind::Str,
        default: None,
        desc: "Folders under INBOX made with an autocreated INBOX, separated by |, spaces around each trimmed (Drafts | Sent | Trash). A folder named by an xlist-FLAG option gets that special use.",
    },
    OptDef {
        name: "autocreate_post",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "lmtpd creates the INBOX of a recipient who has none (with autocreate_quota 0 or more), as at first login, and delivers. As in Cyrus, any local part that is a valid userid gets a mailbox: keep it off unless the MTA only passes on recipients that exist.",
    },
    OptDef {
        name: "autocreate_quota",
        kind: Kind::Int,
        default: Some("-1"),
        desc: "0 or more: a user who logs in (IMAP, POP3, ManageSieve) without an INBOX gets one, with this storage quota in KiB (0: unlimited), and the folders, subscriptions, ACLs and Sieve script of the other autocreate_ options. -1: no INBOX is made at login.",
    },
    OptDef {
        name: "autocreate_quota_messages",
        kind: Kind::Int,
        default: Some("-1"),
        desc: "Message quota of an autocreated INBOX (0 or -1: none).",
    },
    OptDef {
        name: "autocreate_sieve_folders",
        kind: Kind::Str,
        default: None,
        desc: "Folders (names relative to INBOX, separated by |) that a Sieve fileinto creates when they do not exist.",
    },
    OptDef {
        name: "autocreate_sieve_script",
        kind: Kind::Str,
        default: None,
        desc: "A Sieve script file that becomes an autocreated user's active script (named after the file, without directory and extension). Checked when it is installed; a script that does not compile is logged and not installed. (Cyrus's autocreate_sieve_script_compiled and _compile are not needed: the suite keeps no bytecode.)",
    },
    OptDef {
        name: "autocreate_subscribe_folders",
        kind: Kind::Str,
        default: None,
        desc: "Of the autocreate_inbox_folders, those the user is subscribed to (| separated).",
    },
    OptDef {
        name: "autocreate_subscribe_sharedfolders",
        kind: Kind::Str,
        default: None,
        desc: "Shared folders (| separated) an autocreated user is subscribed to, where the user has the l right on them.",
    },
    OptDef {
        name: "autocreate_subscribe_sharedfolders_all",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "An autocreated user is subscribed to every shared folder of the domain it may see (l right).",
    },
    OptDef {
        name: "autocreate_users",
        kind: Kind::List(&[]),
        default: Some("anyone"),
        desc: "Userids whose INBOX may be autocreated; anyone: every user. Admins and proxyservers never get one.",
    },
    OptDef {
        name: "configdirectory",
        kind: Kind::Str,
        default: None,
        desc: "Directory holding the mailbox list, deliver databases, sockets and per-user logs. Required.",
    },
    OptDef {
        name: "cyrus_group",
        kind: Kind::Str,
        default: None,
        desc: "Group master runs its children as when started as root; unset means the primary group of cyrus_user. $CYRUS_GROUP overrides it.",
    },
    OptDef {
        name: "cyrus_user",
        kind: Kind::Str,
        default: Some("cyrus"),
        desc: "User master switches to, after binding its listeners, when started as root. $CYRUS_USER overrides it.",
    },
    OptDef {
        name: "defaultacl",
        kind: Kind::Str,
        default: Some("anyone lrs"),
        desc: "The ACL (identifier and rights, space-separated pairs) of a newly created mailbox that is not a user's and has no existing parent mailbox. A mailbox with a parent takes the nearest existing ancestor's ACL; a user's mailbox gives its owner all rights.",
    },
    OptDef {
        name: "defaultdomain",
        kind: Kind::Str,
        default: None,
        desc: "With virtdomains, the domain whose users have no domain part in mailbox names (user@defaultdomain owns user.NAME).",
    },
    OptDef {
        name: "defaultpartition",
        kind: Kind::Str,
        default: Some("default"),
        desc: "Partition used for new mailboxes; it must be defined by a partition-NAME line.",
    },
    OptDef {
        name: "duplicatesuppression",
        kind: Kind::Bool,
        default: Some("yes"),
        desc: "lmtpd stores a message with a Message-ID already delivered to a mailbox only once, and acknowledges the copies.",
    },
    OptDef {
        name: "fulldirhash",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "Hash directories (those of sievedir, and of the spool with hashimapspool) are one of 23, A to W, hashed from the whole name up to its first dot, instead of its first letter in lower case (q when not a to z), as Cyrus does. Set it once, before any mailbox or script exists: a changed value leaves existing directories where the suite (like Cyrus) no longer looks for them.",
    },
    OptDef {
        name: "hashimapspool",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "Mailbox directories get a hash directory, as Cyrus lays them out: partition/f/user/fred/Sent (the hash of the second level of the name, the user of a personal mailbox; see fulldirhash), partition/b/shared/box, partition/s/shared (a one-level name hashes itself), and with virtdomains partition/domain/e/example.org/f/user/fred. Without it: partition/user/fred/Sent and partition/domain/example.org/user/fred. Debian's imapd.conf sets yes. Set it once, as the spool was made: a changed value moves nothing, and mailboxes already made are no longer found (as in Cyrus). Mailboxes taken over from a Cyrus 3.6 spool laid out by mailbox id (mailbox_legacy_dirs: no) keep their partition/uuid/A/B/UNIQUEID directories whatever this says (their list entries say so); the suite itself always makes new mailboxes by name and does not read mailbox_legacy_dirs.",
    },
    OptDef {
        name: "ldap_base",
        kind: Kind::Str,
        default: Some(""),
        desc: "Base DN under which ptloader searches users with ldap_filter (tokens as ldap_filter).",
    },
    OptDef {
        name: "ldap_bind_dn",
        kind: Kind::Str,
        default: None,
        desc: "DN of ptloader's simple bind to the directory (with ldap_sasl: 0); none: an anonymous bind.",
    },
    OptDef {
        name: "ldap_ca_dir",
        kind: Kind::Str,
        default: None,
        desc: "Directory of CA certificates ptloader trusts for ldaps:// and ldap_start_tls.",
    },
    OptDef {
        name: "ldap_ca_file",
        kind: Kind::Str,
        default: None,
        desc: "File of CA certificates ptloader trusts for ldaps:// and ldap_start_tls.",
    },
    OptDef {
        name: "ldap_ciphers",
        kind: Kind::Str,
        default: None,
        desc: "TLS cipher list of ptloader's LDAP connection (ciphers(1) syntax).",
    },
    OptDef {
        name: "ldap_client_cert",
        kind: Kind::Str,
        default: None,
        desc: "Client certificate ptloader presents to the directory.",
    },
    OptDef {
        name: "ldap_client_key",
        kind: Kind::Str,
        default: None,
        desc: "Private key of ldap_client_cert.",
    },
    OptDef {
        name: "ldap_deref",
        kind: Kind::Enum(&["search", "find", "always", "never"]),
        default: Some("never"),
        desc: "How ptloader's searches dereference aliases.",
    },
    OptDef {
        name: "ldap_domain_base_dn",
        kind: Kind::Str,
        default: Some(""),
        desc: "Base DN of the domain entries: when set, a user of a domain (user@domain) is searched under the base DN found for its domain (ldap_domain_filter with %s the domain; ldap_domain_result_attribute, else the dc= form of ldap_domain_name_attribute or of the domain). Users without a domain are then searched under ldap_base (Cyrus searches every domain: not built).",
    },
    OptDef {
        name: "ldap_domain_filter",
        kind: Kind::Str,
        default: Some("(&(objectclass=domainrelatedobject)(associateddomain=%s))"),
        desc: "Filter finding a domain's entry under ldap_domain_base_dn; %s is the domain.",
    },
    OptDef {
        name: "ldap_domain_name_attribute",
        kind: Kind::Str,
        default: Some("associateddomain"),
        desc: "Attribute of a domain entry naming the (parent) domain.",
    },
    OptDef {
        name: "ldap_domain_result_attribute",
        kind: Kind::Str,
        default: Some("inetdomainbasedn"),
        desc: "Attribute of a domain entry giving the base DN of its users.",
    },
    OptDef {
        name: "ldap_domain_scope",
        kind: Kind::Enum(&["sub", "one", "base"]),
        default: Some("sub"),
        desc: "Scope of the search for a domain entry.",
    },
    OptDef {
        name: "ldap_filter",
        kind: Kind::Str,
        default: Some("(uid=%u)"),
        desc: "Filter finding a user's entry (ldap_sasl: 0). Tokens: %% a %, %u the userid, %U its part before @, %d its domain, %R @ and its domain, %1-%9 the domain's labels from the right, %D the user's DN (member filters). Every value put in a filter is escaped (* ( ) \\ NUL), so a userid cannot change the filter.",
    },
    OptDef {
        name: "ldap_group_base",
        kind: Kind::Str,
        default: Some(""),
        desc: "Base DN of the member search of ldap_member_method: filter (Cyrus 3.6 searches here, not under ldap_member_base; the suite uses ldap_member_base when this is empty).",
    },
    OptDef {
        name: "ldap_group_filter",
        kind: Kind::Str,
        default: Some("(cn=%u)"),
        desc: "Filter finding, under ldap_group_base, the group a group:NAME identifier names (%u the name) when an ACL grants it rights: an unknown group is refused, as in Cyrus.",
    },
    OptDef {
        name: "ldap_group_scope",
        kind: Kind::Enum(&["sub", "one", "base"]),
        default: Some("sub"),
        desc: "Scope of the member search of ldap_member_method: filter.",
    },
    OptDef {
        name: "ldap_member_attribute",
        kind: Kind::Str,
        default: None,
        desc: "With ldap_member_method: attribute, the user's multi-valued attribute holding the DNs of its groups (memberOf): a group is named by the value of the first RDN of each DN, lowercased. With filter, the single-valued attribute of each group entry found that names it (cn).",
    },
    OptDef {
        name: "ldap_member_base",
        kind: Kind::Str,
        default: Some(""),
        desc: "Base DN of the member search when ldap_group_base is empty.",
    },
    OptDef {
        name: "ldap_member_filter",
        kind: Kind::Str,
        default: Some("(member=%D)"),
        desc: "Filter of the member search of ldap_member_method: filter (tokens as ldap_filter).",
    },
    OptDef {
        name: "ldap_member_method",
        kind: Kind::Enum(&["attribute", "filter"]),
        default: Some("attribute"),
        desc: "How ptloader finds a user's groups: attribute (a multi-valued attribute of the user's entry) or filter (a search for group entries).",
    },
    OptDef {
        name: "ldap_member_scope",
        kind: Kind::Enum(&["sub", "one", "base"]),
        default: Some("sub"),
        desc: "Read as in Cyrus 3.6, which searches with ldap_group_scope.",
    },
    OptDef {
        name: "ldap_password",
        kind: Kind::Str,
        default: None,
        desc: "Password of ldap_bind_dn.",
    },
    OptDef {
        name: "ldap_referrals",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "Whether ptloader's LDAP searches follow referrals.",
    },
    OptDef {
        name: "ldap_restart",
        kind: Kind::Bool,
        default: Some("yes"),
        desc: "Whether libldap restarts an interrupted I/O operation.",
    },
    OptDef {
        name: "ldap_sasl",
        kind: Kind::Bool,
        default: Some("yes"),
        desc: "Use SASL binds (and the user's DN from a proxied whoami) in ptloader: not built. With the default yes ptloader answers every question with an error naming this option: set ldap_sasl: 0 and use ldap_bind_dn/ldap_password (or an anonymous bind) and ldap_filter.",
    },
    OptDef {
        name: "ldap_scope",
        kind: Kind::Enum(&["sub", "one", "base"]),
        default: Some("sub"),
        desc: "Scope of the search for a user's entry.",
    },
    OptDef {
        name: "ldap_size_limit",
        kind: Kind::Int,
        default: Some("1"),
        desc: "Entries ptloader's member search (ldap_member_method: filter) may return; 1, the default, means no limit here. Cyrus 3.6 applies it to every search, so there a user in more groups than this is refused: a Cyrus site using the filter method has it raised already. A user's own entry must be the only match in either.",
    },
    OptDef {
        name: "ldap_start_tls",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "StartTLS on ptloader's ldap:// connection (not with ldaps://).",
    },
    OptDef {
        name: "ldap_time_limit",
        kind: Kind::Duration('s'),
        default: Some("5s"),
        desc: "Time limit the directory server is asked to keep for each search.",
    },
    OptDef {
        name: "ldap_timeout",
        kind: Kind::Duration('s'),
        default: Some("5s"),
        desc: "How long ptloader waits for a connection or a search before giving up.",
    },
    OptDef {
        name: "ldap_uri",
        kind: Kind::Str,
        default: None,
        desc: "URI(s) of the directory ptloader asks (ldap://, ldaps://, ldapi://), space-separated as libldap takes them.",
    },
    OptDef {
        name: "ldap_verify_peer",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "Require and verify the directory's certificate (give ldap_ca_file or ldap_ca_dir).",
    },
    OptDef {
        name: "lmtp_downcase_rcpt",
        kind: Kind::Bool,
        default: Some("yes"),
        desc: "lmtpd lowercases recipient addresses (up to a '+').",
    },
    OptDef {
        name: "lmtp_fuzzy_mailbox_match",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "When the folder named after '+' does not exist, lmtpd tries a case- and space-insensitive match, then its parents.",
    },
    OptDef {
        name: "lmtp_over_quota_perm_failure",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "Over quota is a permanent failure (552 5.2.2) instead of a temporary one (452 4.2.2).",
    },
    OptDef {
        name: "lmtp_strict_quota",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "Refuse a delivery that would pass the quota; by default only a mailbox already over quota refuses.",
    },
    OptDef {
        name: "loginrealms",
        kind: Kind::List(&[]),
        default: Some(""),
        desc: "Realms (domains) whose users may log in with user@realm when virtdomains is off, or, when it is set, the only domains that may log in (empty: every domain). A login of another realm is refused and logged as a cross-realm login.",
    },
    OptDef {
        name: "maxlogins_per_host",
        kind: Kind::Int,
        default: Some("0"),
        desc: "Most logged-in IMAP and POP3 sessions at once from one client address (0: no limit); one more is refused.",
    },
    OptDef {
        name: "maxlogins_per_user",
        kind: Kind::Int,
        default: Some("0"),
        desc: "Most logged-in IMAP and POP3 sessions at once of one user (0: no limit); one more is refused.",
    },
    OptDef {
        name: "maxmessagesize",
        kind: Kind::Int,
        default: Some("0"),
        desc: "Largest message lmtpd accepts and imapd APPENDs, in bytes; 0 means no limit of this option (lmtpd still holds at most 1 GiB, imapd 256 MiB).",
    },
    OptDef {
        name: "maxword",
        kind: Kind::Int,
        default: Some("131072"),
        desc: "Largest literal imapd accepts outside APPEND, in bytes (a larger one is refused with NO [TOOBIG]).",
    },
    OptDef {
        name: "mboxlist_db_path",
        kind: Kind::Str,
        default: None,
        desc: "Cyrus's mailboxes.db when it is not configdirectory/mailboxes.db; read by cyr_takeover (the suite keeps its own list in configdirectory/mailboxes.lmdb).",
    },
    OptDef {
        name: "metapartition-",
        kind: Kind::Str,
        default: None,
        desc: "Directory holding the metadata files (see metapartition_files) of the spool partition of the same NAME.",
    },
    OptDef {
        name: "metapartition_files",
        kind: Kind::List(META_FILES),
        default: Some(""),
        desc: "Metadata files kept on the metapartition instead of the spool partition (header, index and cache are honoured).",
    },
    OptDef {
        name: "munge8bit",
        kind: Kind::Bool,
        default: Some("yes"),
        desc: "lmtpd replaces 8-bit bytes in headers with 'X' (for SMTPUTF8 messages only bytes that are not valid UTF-8).",
    },
    OptDef {
        name: "newsaddheaders",
        kind: Kind::Str,
        default: Some("to"),
        desc: "Headers nntpd adds to a posted article when newspostuser is set: to (a To: address newspostuser+group for each newsgroup) and/or replyto (a Reply-To: from Followup-To or Newsgroups), space-separated.",
    },
    OptDef {
        name: "newsgroups",
        kind: Kind::Str,
        default: Some("*"),
        desc: "Wildmat of the group names (the mailbox names below newsprefix) nntpd serves as newsgroups; personal mailboxes never are.",
    },
    OptDef {
        name: "newsmaster",
        kind: Kind::Str,
        default: Some("news"),
        desc: "Userid whose rights decide Usenet control messages: a cancel is carried out where the newsmaster has the e right (or by the article's own poster).",
    },
    OptDef {
        name: "newspeer",
        kind: Kind::Str,
        default: None,
        desc: "Peers nntpd feeds each article it files to, whitespace-separated [user[:pass]@]host[:port][/wildmat]: by IHAVE, or with a user after AUTHINFO by POST; not to a peer named in the article's Path, and with a wildmat only when one of its groups matches (@pattern excludes absolutely).",
    },
    OptDef {
        name: "newspostuser",
        kind: Kind::Str,
        default: None,
        desc: "Userid used to build the email address of a newsgroup (newspostuser+group) in headers added per newsaddheaders.",
    },
    OptDef {
        name: "newsprefix",
        kind: Kind::Str,
        default: None,
        desc: "Prefix of the mailbox names served as newsgroups: group comp.lang.c is mailbox PREFIX.comp.lang.c (without it, every shared mailbox matching newsgroups is a group).",
    },
    OptDef {
        name: "nntptimeout",
        kind: Kind::Duration('m'),
        default: Some("3m"),
        desc: "Inactivity autologout of nntpd (at least 3 minutes).",
    },
    OptDef {
        name: "partition-",
        kind: Kind::Str,
        default: None,
        desc: "Directory of the spool partition NAME, where message files are stored.",
    },
    OptDef {
        name: "password_check_timeout",
        kind: Kind::Duration('s'),
        default: Some("15s"),
        desc: "Suite extension: how long a login waits for libsasl2 to check its credentials (saslauthd, an LDAP server) before it is refused with a clear NO and a badlogin log line; 0 waits as long as libsasl2 does (for ever on a hanging saslauthd, as Cyrus 3.6).",
    },
    OptDef {
        name: "popexpiretime",
        kind: Kind::Int,
        default: Some("-1"),
        desc: "Days advertised in CAPA EXPIRE as how long messages may stay on the server; -1 says NEVER.",
    },
    OptDef {
        name: "popminpoll",
        kind: Kind::Duration('m'),
        default: Some("0"),
        desc: "Least time between two POP3 logins to one maildrop (CAPA LOGIN-DELAY); 0 for none. A bare number is minutes.",
    },
    OptDef {
        name: "popsubfolders",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "A POP3 login user+folder opens that folder of the user instead of INBOX.",
    },
    OptDef {
        name: "poptimeout",
        kind: Kind::Duration('m'),
        default: Some("10m"),
        desc: "POP3 inactivity autologout timer (at least 10 minutes); a bare number is minutes.",
    },
    OptDef {
        name: "popuseacl",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "pop3d applies the mailbox ACL (r to read, t and e to delete); when off, as in Cyrus, a user's own maildrop is fully theirs.",
    },
    OptDef {
        name: "popuseimapflags",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "pop3d hides messages flagged Deleted and sets Seen on those retrieved.",
    },
    OptDef {
        name: "postmaster",
        kind: Kind::Str,
        default: Some("postmaster"),
        desc: "Address used as the sender of Sieve notifications (From: Mail Sieve Subsystem <postmaster>).",
    },
    OptDef {
        name: "postuser",
        kind: Kind::Str,
        default: Some(""),
        desc: "Userid whose +detail addresses deliver to shared folders (postuser+shared.folder); empty means +shared.folder.",
    },
    OptDef {
        name: "proxyservers",
        kind: Kind::List(&[]),
        default: None,
        desc: "Users who may authenticate as themselves and act as another user (SASL authorisation id), besides the admins.",
    },
    OptDef {
        name: "ptloader_sock",
        kind: Kind::Str,
        default: None,
        desc: "Unix socket on which ptloader answers group questions (auth_mech: pts); default {configdirectory}/ptclient/ptsock. cyrus.conf's SERVICES must run ptloader listening there.",
    },
    OptDef {
        name: "pts_module",
        kind: Kind::Str,
        default: Some("afskrb"),
        desc: "Module of auth_mech: pts. ldap is built (ptloader asks the directory); afskrb (Cyrus's default) is not: set pts_module: ldap.",
    },
    OptDef {
        name: "ptscache_timeout",
        kind: Kind::Duration('s'),
        default: Some("3h"),
        desc: "How long a user's groups read by ptloader are used before they are read again (auth_mech: pts). Each process also keeps them a minute.",
    },
    OptDef {
        name: "reject8bit",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "lmtpd refuses (554 5.6.0) messages with 8-bit bytes in headers (not SMTPUTF8 ones that are valid UTF-8).",
    },
    OptDef {
        name: "sasl_",
        kind: Kind::Str,
        default: None,
        desc: "Any libsasl2 option, without the prefix: sasl_pwcheck_method, sasl_mech_list, sasl_auxprop_plugin, sasl_sasldb_path ...",
    },
    OptDef {
        name: "sendmail",
        kind: Kind::Str,
        default: Some("/usr/lib/sendmail"),
        desc: "Program lmtpd runs to send Sieve redirects, vacation replies and notifications, as PROGRAM -i -f SENDER -- RECIPIENT with the message on its standard input (Cyrus 3.6 speaks SMTP to PROGRAM -bs instead).",
    },
    OptDef {
        name: "serverinfo",
        kind: Kind::Enum(&["off", "min", "on"]),
        default: Some("on"),
        desc: "How much the greeting says about the server: off, min (host name only) or on (host name and product).",
    },
    OptDef {
        name: "servername",
        kind: Kind::Str,
        default: None,
        desc: "Host name shown in greetings; unset means the result of gethostname(2).",
    },
    OptDef {
        name: "sharedprefix",
        kind: Kind::Str,
        default: Some("Shared Folders"),
        desc: "Prefix of the shared folders in the alternate namespace.",
    },
    OptDef {
        name: "sieve_duplicate_max_expiration",
        kind: Kind::Duration('s'),
        default: Some("90d"),
        desc: "Longest tracking period of the Sieve duplicate test; a longer :seconds is cut to it (Cyrus 3.6 reads but does not apply it).",
    },
    OptDef {
        name: "sieve_extensions",
        kind: Kind::List(SIEVE_EXTENSION_WORDS),
        default: Some("fileinto reject vacation vacation-seconds notify include envelope environment body relational regex subaddress copy date index imap4flags mailbox mboxmetadata servermetadata variables editheader extlists duplicate ihave fcc special-use redirect-dsn redirect-deliverby mailboxid vnd.cyrus.log vnd.cyrus.jmapquery vnd.cyrus.imip snooze"),
        desc: "Sieve extensions scripts may require; timsieved refuses a script that requires another, and its SIEVE capability lists these (of those the engine implements). Scripts already stored keep running.",
    },
    OptDef {
        name: "sieve_maxredirects",
        kind: Kind::Int,
        default: Some("10"),
        desc: "Most redirect actions a Sieve script may take for one message (the suite's own option; Cyrus has no limit); timsieved announces it as MAXREDIRECTS.",
    },
    OptDef {
        name: "sieve_maxscripts",
        kind: Kind::Int,
        default: Some("5"),
        desc: "Most Sieve scripts a user may keep; timsieved answers NO (QUOTA/MAXSCRIPTS) to a new one beyond it.",
    },
    OptDef {
        name: "sieve_maxscriptsize",
        kind: Kind::Int,
        default: Some("32"),
        desc: "Largest Sieve script, in kilobytes; timsieved answers NO (QUOTA/MAXSIZE) to a larger one.",
    },
    OptDef {
        name: "sieve_utf8fileinto",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "Mailbox names in Sieve fileinto are UTF-8 (converted to modified UTF-7); otherwise they must already be modified UTF-7.",
    },
    OptDef {
        name: "sieve_vacation_max_response",
        kind: Kind::Duration('s'),
        default: Some("90d"),
        desc: "Longest period a Sieve vacation may wait before answering a sender again; longer :days or :seconds are cut to it.",
    },
    OptDef {
        name: "sieve_vacation_min_response",
        kind: Kind::Duration('s'),
        default: Some("3d"),
        desc: "Shortest period a Sieve vacation waits before answering a sender again; shorter :days or :seconds are raised to it.",
    },
    OptDef {
        name: "sievedir",
        kind: Kind::Str,
        default: Some("/usr/sieve"),
        desc: "Directory of users' Sieve scripts, laid out as Cyrus does: sievedir/H/USER/NAME.script (H the first letter, or see fulldirhash), sievedir/domain/H/DOMAIN/H/USER with virtdomains, sievedir/global for global scripts; the active script is the one the symlink defaultbc names (NAME.bc). Debian's imapd.conf sets /var/spool/sieve.",
    },
    OptDef {
        name: "sieveusehomedir",
        kind: Kind::Bool,
        default: Some("no"),
        desc: "lmtpd runs ~USER/.sieve (a script's source) of the user's Unix account instead of scripts in sievedir; timsieved then manages no scripts and refuses logins.",
    },
    OptDef {
        name: "singleinstancestore",
        kind: Kind::Bool,
        default: Some("yes"),
        desc: "lmtpd writes a message delivered to several mailboxes once per partition and hard-links the others.",
    },
    OptDef {
        name: "syslog_facility",
        kind: Kind::Enum(FACILITIES),
        default: Some("MAIL"),
        desc: "Syslog facility for every daemon: DAEMON, MAIL, NEWS, USER or LOCAL0 to LOCAL7.",
    },
    OptDef {
        name: "syslog_prefix",
        kind: Kind::Str,
        default: None,
        desc: "Text put before the program name in the syslog ident (prefix/imapd). $CYRUS_SYSLOG_PREFIX overrides it.",
    },
    OptDef {
        name: "syslog_socket",
        kind: Kind::Str,
        default: Some("/dev/log"),
        desc: "Suite extension: the unix datagram socket log lines are sent to; when it cannot be reached, lines go to standard error.",
    },
    OptDef {
        name: "timeout",
        kind: Kind::Duration('m'),
        default: Some("32m"),
        desc: "IMAP inactivity autologout timer; a bare number is minutes. timsieved uses it too, with at least 10 minutes.",
    },
    OptDef {
        name: "tls_ciphers",
        kind: Kind::Str,
        default: Some("DEFAULT"),
        desc: "OpenSSL cipher list for TLS 1.2 and below (see ciphers(1)). Alias: tls_cipher_list.",
    },
    OptDef {
        name: "tls_client_ca_dir",
        kind: Kind::Str,
        default: None,
        desc: "Directory of CA certificates (hashed) for verifying client certificates. Alias: tls_ca_path.",
    },
    OptDef {
        name: "tls_client_ca_file",
        kind: Kind::Str,
        default: None,
        desc: "File of CA certificates for verifying client certificates. Alias: tls_ca_file.",
    },
    OptDef {
        name: "tls_client_certs",
        kind: Kind::Enum(&["off", "optional", "require"]),
        default: Some("optional"),
        desc: "Whether clients are asked for a certificate verified against tls_client_ca_file/tls_client_ca_dir: off, optional (when a CA is set) or require (the handshake fails without one). A verified certificate's CN is the authentication id of SASL EXTERNAL.",
    },
    OptDef {
        name: "tls_server_cert",
        kind: Kind::Str,
        default: None,
        desc: "PEM certificate chain of the server; `disabled` turns TLS off for the service. Alias: tls_cert_file, tls_SERVICE_cert_file.",
    },
    OptDef {
        name: "tls_server_key",
        kind: Kind::Str,
        default: None,
        desc: "PEM private key of the server certificate. Alias: tls_key_file, tls_SERVICE_key_file.",
    },
    OptDef {
        name: "tls_versions",
        kind: Kind::List(TLS_VERSIONS),
        default: Some("tls1_2 tls1_3"),
        desc: "TLS versions that are allowed; unlike Cyrus, TLS 1.0 and 1.1 are off unless listed.",
    },
    OptDef {
        name: "uidl_format",
        kind: Kind::Enum(&["uidonly", "cyrus", "dovecot", "courier"]),
        default: Some("cyrus"),
        desc: "UIDL values: uidonly (UID), cyrus (UIDVALIDITY.UID), dovecot (UID in hex, UIDVALIDITY in hex), courier (UIDVALIDITY-UID).",
    },
    OptDef {
        name: "unixhierarchysep",
        kind: Kind::Bool,
        default: Some("yes"),
        desc: "Show '/' as the hierarchy separator (a '.' in a folder name is then stored as '^').",
    },
    OptDef {
        name: "username_tolower",
        kind: Kind::Bool,
        default: Some("yes"),
        desc: "Userids are lowered before they name a mailbox or an ACL entry (as Cyrus 3.6 does by default), so Fred and fred are one user.",
    },
    OptDef {
        name: "userprefix",
        kind: Kind::Str,
        default: Some("Other Users"),
        desc: "Prefix of other users' folders in the alternate namespace.",
    },
    OptDef {
        name: "virtdomains",
        kind: Kind::Enum(&["off", "userid", "on", "no", "yes", "0", "1"]),
        default: Some("off"),
        desc: "Virtual domains: userids of the form user@domain own domain!user.NAME mailboxes.",
    },
    OptDef {
        name: "xlist-",
        kind: Kind::Str,
        default: None,
        desc: "xlist-FLAG: FOLDER gives the autocreated FOLDER (of autocreate_inbox_folders) the special use \\FLAG (xlist-junk: Spam makes Spam the \\Junk folder), as in Cyrus.",
    },
];

/// Older names accepted for an option: (old, new). A `*` in the old name stands for a
/// service name, which becomes the new name's service prefix.
pub const ALIASES: &[(&str, &str)] = &[
    ("tls_ca_file", "tls_client_ca_file"),
    ("tls_ca_path", "tls_client_ca_dir"),
    ("tls_cert_file", "tls_server_cert"),
    ("tls_cipher_list", "tls_ciphers"),
    ("tls_key_file", "tls_server_key"),
    ("tls_*_cert_file", "tls_server_cert"),
    ("tls_*_key_file", "tls_server_key"),
];

/// The table row for `name`: an exact name, or a prefix entry that `name` starts with
/// (with a non-empty rest).
pub fn lookup(name: &str) -> Option<&'static OptDef> {
    OPTIONS.iter().find(|d| {
        if d.is_prefix() {
            name.len() > d.name.len() && name.starts_with(d.name)
        } else {
            d.name == name
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in OPTIONS.windows(2) {
            assert!(w[0].name < w[1].name, "{} then {}", w[0].name, w[1].name);
        }
    }

    #[test]
    fn defaults_parse_as_their_type() {
        for d in OPTIONS {
            if let Some(v) = d.default {
                crate::value::check(d.kind, v).unwrap_or_else(|e| panic!("{}: {e}", d.name));
            }
        }
    }

    #[test]
    fn prefix_lookup() {
        assert_eq!(lookup("partition-default").unwrap().name, "partition-");
        assert!(lookup("partition-").is_none());
        assert_eq!(lookup("metapartition-fast").unwrap().name, "metapartition-");
        assert!(lookup("nosuch").is_none());
    }
}
