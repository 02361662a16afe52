//! REFERENCES steps 1 to 3 (RFC 5256 section 3, as Cyrus 3.6's `ref_link_messages`
//! and `ref_prune_tree` do them): containers linked by Message-ID and References,
//! the root set, and the empty containers pruned, giving a [`Forest`].
//!
//! Step 1, per message in sequence order: its container is the one its Message-ID
//! names if that is still empty, else a new one (no id, or a duplicate id). Each
//! reference gets a container; consecutive references are linked parent to child
//! where the child has no parent yet and the link makes no loop. The message's
//! container then leaves any parent it had and goes under its last reference, again
//! unless that makes a loop. The loop checks are [`Lct::root`] queries.
//!
//! Step 3: an empty container without children goes; one with children is replaced
//! by them, except at the root level where it stays when it has two or more (a
//! dummy root, whose children are then pruned like any others). This is Cyrus's
//! result, computed in one pass: below the root level every message's children
//! are the nearest messages under it, empty containers between them skipped.

use super::ThreadMsg;
use super::forest::{Forest, NIL, Node};
use super::lct::Lct;

struct Containers {
    msg: Vec<u32>,
    parent: Vec<u32>,
    first_child: Vec<u32>,
    next: Vec<u32>,
    prev: Vec<u32>,
    lct: Lct,
}

impl Containers {
    fn new(n: usize) -> Containers {
        Containers { msg: vec![NIL; n], parent: vec![NIL; n], first_child: vec![NIL; n], next: vec![NIL; n], prev: vec![NIL; n], lct: Lct::new(n) }
    }

    fn add(&mut self, msg: u32) -> u32 {
        for v in [&mut self.parent, &mut self.first_child, &mut self.next, &mut self.prev] {
            v.push(NIL);
        }
        self.msg.push(msg);
        self.lct.push();
        (self.msg.len() - 1) as u32
    }

    fn adopt(&mut self, parent: u32, child: u32) {
        let (p, c) = (parent as usize, child as usize);
        self.parent[c] = parent;
        let first = self.first_child[p];
        self.next[c] = first;
        self.prev[c] = NIL;
        if first != NIL {
            self.prev[first as usize] = child;
        }
        self.first_child[p] = child;
        self.lct.link(child, parent);
    }

    fn orphan(&mut self, child: u32) {
        let c = child as usize;
        let (p, n, v) = (self.parent[c], self.next[c], self.prev[c]);
        if v == NIL {
            self.first_child[p as usize] = n;
        } else {
            self.next[v as usize] = n;
        }
        if n != NIL {
            self.prev[n as usize] = v;
        }
        self.parent[c] = NIL;
        self.next[c] = NIL;
        self.prev[c] = NIL;
        self.lct.cut(child);
    }

    fn children(&self, x: u32) -> impl Iterator<Item = u32> + '_ {
        let mut c = self.first_child[x as usize];
        std::iter::from_fn(move || {
            let here = c;
            if here == NIL {
                return None;
            }
            c = self.next[here as usize];
            Some(here)
        })
    }

    /// Steps 2 and 3: the pruned forest of every container without a parent.
    fn prune(&self) -> Forest {
        let mut f = Forest::default();
        let mut stack: Vec<(u32, u32)> = Vec::new();
        for x in 0..self.msg.len() as u32 {
            if self.parent[x as usize] != NIL {
                continue;
            }
            let mut r = x;
            // An empty root with one child gives way to it, at the root level.
            while self.msg[r as usize] == NIL && self.first_child[r as usize] != NIL && self.next[self.first_child[r as usize] as usize] == NIL {
                r = self.first_child[r as usize];
            }
            if self.msg[r as usize] == NIL && self.first_child[r as usize] == NIL {
                continue;
            }
            let top = f.push(Node { msg: self.msg[r as usize], children: Vec::new() });
            stack.extend(self.children(r).map(|c| (c, top)));
            while let Some((c, fp)) = stack.pop() {
                let under = if self.msg[c as usize] == NIL {
                    fp
                } else {
                    let n = f.push(Node { msg: self.msg[c as usize], children: Vec::new() });
                    f.nodes[fp as usize].children.push(n);
                    n
                };
                stack.extend(self.children(c).map(|g| (g, under)));
            }
            if f.nodes[top as usize].msg == NIL && f.nodes[top as usize].children.is_empty() {
                // A dummy root whose subtree held no message: nothing was added after it.
                f.nodes.pop();
            } else {
                f.roots.push(top);
            }
        }
        f
    }
}

/// Steps 1 to 3 for the messages (in sequence order) with their interned own ids
/// and reference ids; `nids` ids were interned.
pub(super) fn link_and_prune(msgs: &[ThreadMsg], own: &[Option<u32>], refs: &[u32], ref_start: &[usize], nids: usize) -> Forest {
    let mut c = Containers::new(nids);
    for i in 0..msgs.len() {
        let cur = match own[i] {
            Some(id) if c.msg[id as usize] == NIL => {
                c.msg[id as usize] = i as u32;
                id
            }
            _ => c.add(i as u32),
        };
        let mut parent = NIL;
        for &r in &refs[ref_start[i]..ref_start[i + 1]] {
            if parent != NIL && c.parent[r as usize] == NIL && c.lct.root(parent) != r {
                c.adopt(parent, r);
            }
            parent = r;
        }
        // The message's own references know its parent better than another's.
        if c.parent[cur as usize] != NIL {
            c.orphan(cur);
        }
        if parent != NIL && c.lct.root(parent) != cur {
            c.adopt(parent, cur);
        }
    }
    c.prune()
}
