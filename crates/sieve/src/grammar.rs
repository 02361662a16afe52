//! The generic grammar of RFC 5228 §8.2: commands with arguments, tests and blocks,
//! before any command is known by name. [`crate::compile`] gives the tree its
//! meaning. Nesting (blocks and tests) is bounded so that a hostile script cannot
//! exhaust the stack.

use crate::CompileError;
use crate::lexer::{Lexer, Pos, Tok};

/// Deepest nesting of blocks and tests.
pub const MAX_NESTING: usize = 64;

#[derive(Clone, Debug)]
pub enum Arg {
    /// A string or string list; `single` when written as one string, not `[...]`.
    Strings { pos: Pos, list: Vec<String>, single: bool },
    Number(Pos, u64),
    Tag(Pos, String),
}

impl Arg {
    pub fn pos(&self) -> Pos {
        match self {
            Arg::Strings { pos, .. } | Arg::Number(pos, _) | Arg::Tag(pos, _) => *pos,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Test {
    pub pos: Pos,
    pub name: String,
    pub args: Vec<Arg>,
    pub tests: Vec<Test>,
    /// Whether the tests were written as a parenthesised test-list.
    pub test_list: bool,
}

#[derive(Clone, Debug)]
pub struct Command {
    pub pos: Pos,
    pub name: String,
    pub args: Vec<Arg>,
    pub tests: Vec<Test>,
    pub test_list: bool,
    pub block: Option<Vec<Command>>,
}

struct Parser<'a> {
    lx: Lexer<'a>,
    peeked: Option<(Pos, Tok)>,
    end: Pos,
}

/// Parses a whole script into its commands.
pub fn parse(src: &[u8]) -> Result<Vec<Command>, CompileError> {
    let mut p = Parser { lx: Lexer::new(src)?, peeked: None, end: Pos::default() };
    let mut cmds = Vec::new();
    while p.peek()?.is_some() {
        cmds.push(p.command(0)?);
    }
    Ok(cmds)
}

impl Parser<'_> {
    fn peek(&mut self) -> Result<Option<&(Pos, Tok)>, CompileError> {
        if self.peeked.is_none() {
            self.peeked = self.lx.next()?;
            if self.peeked.is_none() {
                self.end = self.lx.pos();
            }
        }
        Ok(self.peeked.as_ref())
    }

    fn take(&mut self) -> Result<Option<(Pos, Tok)>, CompileError> {
        self.peek()?;
        Ok(self.peeked.take())
    }

    fn expect_end(&self, what: &str) -> CompileError {
        self.end.error(format!("unexpected end of script: expected {what}"))
    }

    fn command(&mut self, depth: usize) -> Result<Command, CompileError> {
        if depth > MAX_NESTING {
            let pos = self.peek()?.map(|t| t.0); let pos = pos.unwrap_or(self.end);
            return Err(pos.error(format!("blocks nested more than {MAX_NESTING} deep")));
        }
        let (pos, name) = match self.take()? {
            Some((pos, Tok::Ident(n))) => (pos, n),
            Some((pos, t)) => return Err(pos.error(format!("expected a command, found {}", describe(&t)))),
            None => return Err(self.expect_end("a command")),
        };
        let args = self.arguments()?;
        let (tests, test_list) = self.tests(depth)?;
        match self.take()? {
            Some((_, Tok::Semi)) => Ok(Command { pos, name, args, tests, test_list, block: None }),
            Some((_, Tok::LBrace)) => {
                let mut block = Vec::new();
                loop {
                    match self.peek()? {
                        Some((_, Tok::RBrace)) => {
                            self.take()?;
                            break;
                        }
                        None => return Err(self.expect_end("'}'")),
                        _ => block.push(self.command(depth + 1)?),
                    }
                }
                Ok(Command { pos, name, args, tests, test_list, block: Some(block) })
            }
            Some((p, t)) => Err(p.error(format!("expected ';' or '{{' after {name}, found {}", describe(&t)))),
            None => Err(self.expect_end(&format!("';' after {name}"))),
        }
    }

    fn arguments(&mut self) -> Result<Vec<Arg>, CompileError> {
        let mut args = Vec::new();
        loop {
            let Some((pos, tok)) = self.peek()? else { break };
            let pos = *pos;
            match tok {
                Tok::Str(_) => {
                    let Some((_, Tok::Str(s))) = self.take()? else { unreachable!() };
                    args.push(Arg::Strings { pos, list: vec![s], single: true });
                }
                Tok::Number(n) => {
                    let n = *n;
                    self.take()?;
                    args.push(Arg::Number(pos, n));
                }
                Tok::Tag(_) => {
                    let Some((_, Tok::Tag(t))) = self.take()? else { unreachable!() };
                    args.push(Arg::Tag(pos, t));
                }
                Tok::LBracket => {
                    self.take()?;
                    let mut list = Vec::new();
                    loop {
                        match self.take()? {
                            Some((_, Tok::Str(s))) => list.push(s),
                            Some((p, t)) => return Err(p.error(format!("expected a string in the list, found {}", describe(&t)))),
                            None => return Err(self.expect_end("a string")),
                        }
                        match self.take()? {
                            Some((_, Tok::Comma)) => continue,
                            Some((_, Tok::RBracket)) => break,
                            Some((p, t)) => return Err(p.error(format!("expected ',' or ']', found {}", describe(&t)))),
                            None => return Err(self.expect_end("']'")),
                        }
                    }
                    args.push(Arg::Strings { pos, list, single: false });
                }
                _ => break,
            }
        }
        Ok(args)
    }

    fn tests(&mut self, depth: usize) -> Result<(Vec<Test>, bool), CompileError> {
        match self.peek()? {
            Some((_, Tok::Ident(_))) => Ok((vec![self.test(depth + 1)?], false)),
            Some((_, Tok::LParen)) => {
                self.take()?;
                let mut v = Vec::new();
                loop {
                    v.push(self.test(depth + 1)?);
                    match self.take()? {
                        Some((_, Tok::Comma)) => continue,
                        Some((_, Tok::RParen)) => break,
                        Some((p, t)) => return Err(p.error(format!("expected ',' or ')' in a test list, found {}", describe(&t)))),
                        None => return Err(self.expect_end("')'")),
                    }
                }
                Ok((v, true))
            }
            _ => Ok((Vec::new(), false)),
        }
    }

    fn test(&mut self, depth: usize) -> Result<Test, CompileError> {
        if depth > MAX_NESTING {
            let pos = self.peek()?.map(|t| t.0); let pos = pos.unwrap_or(self.end);
            return Err(pos.error(format!("tests nested more than {MAX_NESTING} deep")));
        }
        let (pos, name) = match self.take()? {
            Some((pos, Tok::Ident(n))) => (pos, n),
            Some((pos, t)) => return Err(pos.error(format!("expected a test, found {}", describe(&t)))),
            None => return Err(self.expect_end("a test")),
        };
        let args = self.arguments()?;
        let (tests, test_list) = self.tests(depth)?;
        Ok(Test { pos, name, args, tests, test_list })
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Tag(s) => format!("':{s}'"),
        Tok::Number(n) => format!("number {n}"),
        Tok::Str(_) => "a string".into(),
        Tok::LBracket => "'['".into(),
        Tok::RBracket => "']'".into(),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::LBrace => "'{'".into(),
        Tok::RBrace => "'}'".into(),
        Tok::Comma => "','".into(),
        Tok::Semi => "';'".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let c = parse(b"if anyof (header :is \"a\" \"b\", not exists \"x\") { fileinto \"f\"; } else { keep; }").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].name, "if");
        assert!(c[0].test_list == false && c[0].tests[0].test_list);
        assert_eq!(c[0].tests[0].tests.len(), 2);
        assert_eq!(c[1].name, "else");
    }

    #[test]
    fn errors() {
        let e = parse(b"if true {\n keep;\n").unwrap_err();
        assert!(e.message.contains("'}'"), "{e}");
        let e = parse(b"keep\n}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        let deep = "if true {".repeat(10_000);
        let e = parse(deep.as_bytes()).unwrap_err();
        assert!(e.message.contains("nested"));
        let deep = format!("if {}true{} {{}}", "not ".repeat(10_000), "");
        assert!(parse(deep.as_bytes()).unwrap_err().message.contains("nested"));
        let deep = format!("if {}true{} {{}}", "anyof(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(deep.as_bytes()).unwrap_err().message.contains("nested"));
    }
}
