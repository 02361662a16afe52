//! The threads as a forest of nodes (a message, or a dummy standing for a missing
//! parent), the steps that order and merge them, and the THREAD response.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::ThreadMsg;

pub(super) const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
pub(super) struct Node {
    /// Index of the message in [`Forest::msgs`], or NIL for a dummy.
    pub msg: u32,
    pub children: Vec<u32>,
}

/// Threads of messages, ready to be written ([`Forest::write`]).
#[derive(Clone, Debug, Default)]
pub struct Forest {
    pub(super) msgs: Vec<ThreadMsg>,
    pub(super) nodes: Vec<Node>,
    pub(super) roots: Vec<u32>,
}

impl Forest {
    pub(super) fn push(&mut self, n: Node) -> u32 {
        self.nodes.push(n);
        (self.nodes.len() - 1) as u32
    }

    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// The message a node stands for in comparisons: its own, or for a dummy, that
    /// of its first child (Cyrus's `index_thread_compare`).
    fn rep(&self, mut n: u32) -> Option<&ThreadMsg> {
        loop {
            let node = &self.nodes[n as usize];
            if node.msg != NIL {
                return Some(&self.msgs[node.msg as usize]);
            }
            n = *node.children.first()?;
        }
    }

    fn by_date(&self, a: u32, b: u32) -> Ordering {
        match (self.rep(a), self.rep(b)) {
            (Some(x), Some(y)) => (x.date, x.seq).cmp(&(y.date, y.seq)),
            (x, y) => x.is_some().cmp(&y.is_some()),
        }
    }

    fn sort_children(&mut self, n: u32, cmp: &impl Fn(&Forest, u32, u32) -> Ordering) {
        let mut ch = std::mem::take(&mut self.nodes[n as usize].children);
        ch.sort_by(|&a, &b| cmp(self, a, b));
        self.nodes[n as usize].children = ch;
    }

    /// Sorts every list of children, deepest first (a dummy is compared by its first
    /// child, so that child must be in place), then the roots.
    fn sort_all(&mut self, cmp: &impl Fn(&Forest, u32, u32) -> Ordering) {
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut stack = self.roots.clone();
        while let Some(n) = stack.pop() {
            order.push(n);
            stack.extend_from_slice(&self.nodes[n as usize].children);
        }
        for &n in order.iter().rev() {
            if self.nodes[n as usize].children.len() > 1 {
                self.sort_children(n, cmp);
            }
        }
        let mut roots = std::mem::take(&mut self.roots);
        roots.sort_by(|&a, &b| cmp(self, a, b));
        self.roots = roots;
    }

    /// REFERENCES steps 4 to 6.
    pub(super) fn references(&mut self) {
        // (4) the children of dummy roots, then the roots, by date.
        for i in 0..self.roots.len() {
            let r = self.roots[i];
            if self.nodes[r as usize].msg == NIL {
                self.sort_children(r, &|f: &Forest, a, b| f.by_date(a, b));
            }
        }
        let mut roots = std::mem::take(&mut self.roots);
        roots.sort_by(|&a, &b| self.by_date(a, b));
        self.roots = roots;
        // (5) threads of one base subject merged.
        self.group_subjects();
        // (6) everything by date.
        self.sort_all(&|f: &Forest, a, b| f.by_date(a, b));
    }

    /// REFERENCES step 5, as Cyrus's `ref_group_subjects`.
    fn group_subjects(&mut self) {
        let subject = |f: &Forest, n: u32| f.rep(n).map(|m| m.subject.clone()).unwrap_or_default();
        let refwd = |f: &Forest, n: u32| {
            let m = f.nodes[n as usize].msg;
            m != NIL && f.msgs[m as usize].is_refwd
        };
        let is_dummy = |f: &Forest, n: u32| f.nodes[n as usize].msg == NIL;
        // (B) one root per subject: a dummy rather than a message, a message that is
        // not a reply or forward rather than one that is.
        let mut table: HashMap<String, u32> = HashMap::new();
        for &r in &self.roots {
            let s = subject(self, r);
            if s.is_empty() {
                continue;
            }
            let keep = match table.get(&s) {
                None => false,
                Some(&old) => {
                    !((is_dummy(self, r) && !is_dummy(self, old)) || (!is_dummy(self, old) && refwd(self, old) && !is_dummy(self, r) && !refwd(self, r)))
                }
            };
            if !keep {
                table.insert(s, r);
            }
        }
        // (C) the other roots of that subject join it.
        let roots = std::mem::take(&mut self.roots);
        let mut kept = Vec::with_capacity(roots.len());
        for r in roots {
            let s = subject(self, r);
            let old = match table.get(&s) {
                Some(&old) if !s.is_empty() && old != r => old,
                _ => {
                    kept.push(r);
                    continue;
                }
            };
            if is_dummy(self, old) && is_dummy(self, r) {
                let ch = std::mem::take(&mut self.nodes[r as usize].children);
                self.nodes[old as usize].children.extend(ch);
            } else if is_dummy(self, old) || (refwd(self, r) && !refwd(self, old)) {
                self.nodes[old as usize].children.push(r);
            } else {
                // Neither is the other's reply: both go under a new dummy, which takes
                // old's place (the table still points there).
                let o = &mut self.nodes[old as usize];
                let moved = Node { msg: o.msg, children: std::mem::take(&mut o.children) };
                o.msg = NIL;
                let n = self.push(moved);
                self.nodes[old as usize].children = vec![r, n];
            }
        }
        self.roots = kept;
    }

    /// REFS: threads by the latest internal date in them (a dummy root counting as
    /// sequence number 0, as Cyrus's stand-in record does), children by (sent date,
    /// internal date, sequence).
    pub(super) fn refs(&mut self) {
        let mut latest: Vec<Option<i64>> = vec![None; self.nodes.len()];
        let mut stack = Vec::new();
        for &r in &self.roots {
            let mut max = i64::MIN;
            stack.push(r);
            while let Some(n) = stack.pop() {
                let node = &self.nodes[n as usize];
                if node.msg != NIL {
                    max = max.max(self.msgs[node.msg as usize].arrival);
                }
                stack.extend_from_slice(&node.children);
            }
            latest[r as usize] = Some(max);
        }
        let key = |f: &Forest, n: u32| match latest[n as usize] {
            Some(max) => {
                let node = &f.nodes[n as usize];
                let seq = if node.msg == NIL { 0 } else { f.msgs[node.msg as usize].seq };
                (max, max, seq, f.rep(n).map_or(0, |m| m.seq))
            }
            None => f.rep(n).map_or((i64::MIN, i64::MIN, 0, 0), |m| (m.date, m.arrival, m.seq, 0)),
        };
        self.sort_all(&|f: &Forest, a, b| key(f, a).cmp(&key(f, b)));
    }

    /// The THREAD response body: each thread in parentheses, a chain of only
    /// children written flat (`(1 2 3)`), branches nested (`(1 (2)(3 4))`), a dummy
    /// writing nothing of its own. Iterative: a deep thread is a long line, not a
    /// deep stack.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut stack: Vec<(u32, usize, bool)> = vec![(NIL, 0, false)];
        while let Some((p, i, close)) = stack.pop() {
            let list = if p == NIL { &self.roots } else { &self.nodes[p as usize].children };
            let Some(&t) = list.get(i) else {
                if close {
                    out.push(b')');
                }
                continue;
            };
            stack.push((p, i + 1, close));
            out.push(b'(');
            let mut n = t;
            loop {
                let node = &self.nodes[n as usize];
                if node.msg != NIL {
                    push_number(out, self.msgs[node.msg as usize].id);
                    if !node.children.is_empty() {
                        out.push(b' ');
                    }
                }
                match node.children.len() {
                    0 => {
                        out.push(b')');
                        break;
                    }
                    1 => n = node.children[0],
                    _ => {
                        stack.push((n, 0, true));
                        break;
                    }
                }
            }
        }
    }
}

/// Appends `n` in decimal (without the allocation `to_string` makes: a response has
/// one number per message).
pub fn push_number(out: &mut Vec<u8>, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// ORDEREDSUBJECT: runs of one base subject in (subject, date, sequence) order; the
/// first of a run is the parent of the rest; threads and children by date.
pub(super) fn ordered_subject(msgs: Vec<ThreadMsg>) -> Forest {
    let mut order: Vec<u32> = (0..msgs.len() as u32).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&msgs[a as usize], &msgs[b as usize]);
        (&x.subject, x.date, x.seq).cmp(&(&y.subject, y.date, y.seq))
    });
    let mut f = Forest { msgs, ..Default::default() };
    let mut head = NIL;
    for (k, &m) in order.iter().enumerate() {
        let n = f.push(Node { msg: m, children: Vec::new() });
        let same = k > 0 && f.msgs[order[k - 1] as usize].subject == f.msgs[m as usize].subject;
        if same {
            f.nodes[head as usize].children.push(n);
        } else {
            head = n;
            f.roots.push(n);
        }
    }
    f.sort_all(&|f: &Forest, a, b| f.by_date(a, b));
    f
}
