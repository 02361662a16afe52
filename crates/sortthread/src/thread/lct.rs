//! A link-cut tree (Sleator and Tarjan) over the containers of REFERENCES step 1,
//! answering "which container is the root of x's tree" in amortised O(log n) while
//! links are made and broken.
//!
//! Step 1 links a container under a parent only where that makes no loop, that is
//! where the parent is not a descendant of the container; the container is then a
//! root, so the question is whether it is the parent's root. Walking the parent
//! chain (or, as Cyrus does, the container's subtree) costs the depth of the tree,
//! which a 100 000-message chain makes 100 000 for every message. Here every
//! operation is a few splays, whatever the shape.
//!
//! Only what step 1 needs: `link` of a root under any node, `cut` of a node from its
//! parent, `root`. No re-rooting, so no reversal bits. Splays are iterative.

const NIL: u32 = u32::MAX;

pub struct Lct {
    /// Left and right child in the node's splay tree.
    ch: Vec<[u32; 2]>,
    /// Splay parent, or for a splay root its path-parent, or NIL.
    up: Vec<u32>,
}

impl Lct {
    pub fn new(n: usize) -> Lct {
        Lct { ch: vec![[NIL, NIL]; n], up: vec![NIL; n] }
    }

    /// Adds a node (a tree of its own).
    pub fn push(&mut self) {
        self.ch.push([NIL, NIL]);
        self.up.push(NIL);
    }

    fn is_splay_root(&self, x: u32) -> bool {
        let p = self.up[x as usize];
        p == NIL || (self.ch[p as usize][0] != x && self.ch[p as usize][1] != x)
    }

    fn rotate(&mut self, x: u32) {
        let p = self.up[x as usize];
        let g = self.up[p as usize];
        let d = usize::from(self.ch[p as usize][1] == x);
        if !self.is_splay_root(p) {
            let gi = g as usize;
            if self.ch[gi][0] == p {
                self.ch[gi][0] = x;
            } else {
                self.ch[gi][1] = x;
            }
        }
        self.up[x as usize] = g;
        let b = self.ch[x as usize][d ^ 1];
        self.ch[p as usize][d] = b;
        if b != NIL {
            self.up[b as usize] = p;
        }
        self.ch[x as usize][d ^ 1] = p;
        self.up[p as usize] = x;
    }

    fn splay(&mut self, x: u32) {
        while !self.is_splay_root(x) {
            let p = self.up[x as usize];
            if !self.is_splay_root(p) {
                let g = self.up[p as usize];
                let zigzig = (self.ch[g as usize][0] == p) == (self.ch[p as usize][0] == x);
                self.rotate(if zigzig { p } else { x });
            }
            self.rotate(x);
        }
    }

    /// Makes the path from x's root to x preferred; x ends as its splay root.
    fn access(&mut self, x: u32) {
        let mut last = NIL;
        let mut y = x;
        while y != NIL {
            self.splay(y);
            self.ch[y as usize][1] = last;
            last = y;
            y = self.up[y as usize];
        }
        self.splay(x);
    }

    /// The root of x's tree.
    pub fn root(&mut self, x: u32) -> u32 {
        self.access(x);
        let mut r = x;
        while self.ch[r as usize][0] != NIL {
            r = self.ch[r as usize][0];
        }
        self.splay(r);
        r
    }

    /// Hangs the tree rooted at `child` (which must be a root) under `parent`.
    pub fn link(&mut self, child: u32, parent: u32) {
        self.access(child);
        self.up[child as usize] = parent;
    }

    /// Detaches x (and its subtree) from its parent.
    pub fn cut(&mut self, x: u32) {
        self.access(x);
        let l = self.ch[x as usize][0];
        if l != NIL {
            self.up[l as usize] = NIL;
            self.ch[x as usize][0] = NIL;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a plain parent array, on a pseudo-random sequence of operations.
    #[test]
    fn agrees_with_parent_array() {
        let n = 300;
        let mut lct = Lct::new(n);
        let mut parent = vec![NIL; n];
        let root = |parent: &[u32], mut x: u32| {
            while parent[x as usize] != NIL {
                x = parent[x as usize];
            }
            x
        };
        let mut seed = 12345u64;
        let mut rnd = |m: usize| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % m
        };
        for _ in 0..20_000 {
            let a = rnd(n) as u32;
            let b = rnd(n) as u32;
            match rnd(3) {
                0 => {
                    if parent[a as usize] == NIL && root(&parent, b) != a {
                        lct.link(a, b);
                        parent[a as usize] = b;
                    }
                }
                1 => {
                    lct.cut(a);
                    parent[a as usize] = NIL;
                }
                _ => assert_eq!(lct.root(a), root(&parent, a)),
            }
        }
    }

    #[test]
    fn deep_chain() {
        let n = 200_000u32;
        let mut lct = Lct::new(n as usize);
        for i in 1..n {
            assert_eq!(lct.root(i - 1), 0);
            lct.link(i, i - 1);
        }
        assert_eq!(lct.root(n - 1), 0);
        lct.cut(n / 2);
        assert_eq!(lct.root(n - 1), n / 2);
        assert_eq!(lct.root(n / 2 - 1), 0);
    }
}
