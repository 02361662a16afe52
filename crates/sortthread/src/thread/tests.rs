use super::forest::{Forest, NIL, Node};
use super::*;

/// A message for the tests: sequence number = id = date = `n`.
fn msg(n: u32, subject: &str) -> ThreadMsg {
    let b = crate::subject::extract(subject);
    ThreadMsg { seq: n, id: n, date: i64::from(n), arrival: i64::from(n), subject: b.key(), is_refwd: b.is_refwd }
}

fn id(n: u32) -> Vec<u8> {
    format!("<{n}@test>").into_bytes()
}

/// Threads (seq, subject, own id, reference ids) with `alg`; returns the response body.
fn run(alg: Algorithm, msgs: &[(u32, &str, Option<u32>, &[u32])]) -> String {
    let mut t = Threader::new();
    for &(n, subject, own, refs) in msgs {
        t.push(msg(n, subject), own.map(id).as_deref(), refs.iter().map(|&r| id(r)));
    }
    let mut out = Vec::new();
    t.thread(alg).write(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn rfc5256_shapes() {
    // The thread drawn in RFC 5256's thread-list description.
    let m: &[(u32, &str, Option<u32>, &[u32])] = &[
        (2, "a", Some(2), &[]),
        (3, "b", Some(3), &[]),
        (4, "c", Some(4), &[3, 6]),
        (6, "d", Some(6), &[3]),
        (7, "e", Some(7), &[3, 6, 44]),
        (23, "f", Some(23), &[3, 6, 4]),
        (44, "g", Some(44), &[3, 6]),
        (96, "h", Some(96), &[3, 6, 44, 7]),
    ];
    assert_eq!(run(Algorithm::References, m), "(2)(3 6 (4 23)(44 7 96))");
    // A missing parent with two replies is a dummy: "((3)(5))".
    let m: &[(u32, &str, Option<u32>, &[u32])] = &[(3, "x", Some(3), &[1]), (5, "y", Some(5), &[1])];
    assert_eq!(run(Algorithm::References, m), "((3)(5))");
    // ... and with one reply the dummy goes.
    assert_eq!(run(Algorithm::References, &m[..1]), "(3)");
}

#[test]
fn references_subjects() {
    // A reply without References joins its original by subject.
    let m: &[(u32, &str, Option<u32>, &[u32])] = &[(1, "Hello", Some(1), &[]), (2, "Re: hello", Some(2), &[]), (3, "Other", Some(3), &[])];
    assert_eq!(run(Algorithm::References, m), "(1 2)(3)");
    // Two originals of one subject go under a dummy.
    let m: &[(u32, &str, Option<u32>, &[u32])] = &[(1, "Hello", Some(1), &[]), (2, "Other", None, &[]), (3, "hello", Some(3), &[])];
    assert_eq!(run(Algorithm::References, m), "((1)(3))(2)");
    // Empty subjects never merge.
    let m: &[(u32, &str, Option<u32>, &[u32])] = &[(1, "", None, &[]), (2, "Re:", None, &[])];
    assert_eq!(run(Algorithm::References, m), "(1)(2)");
    // REFS does not merge by subject.
    let m: &[(u32, &str, Option<u32>, &[u32])] = &[(1, "Hello", Some(1), &[]), (2, "Re: hello", Some(2), &[])];
    assert_eq!(run(Algorithm::Refs, m), "(1)(2)");
}

#[test]
fn loops_duplicates_and_self_references() {
    // 1 says its parent is 2, 2 says its parent is 1: the later message loses.
    let m: &[(u32, &str, Option<u32>, &[u32])] = &[(1, "a", Some(1), &[2]), (2, "b", Some(2), &[1])];
    assert_eq!(run(Algorithm::References, m), "(2 1)");
    // A message naming itself, and a loop inside one References field.
    let m: &[(u32, &str, Option<u32>, &[u32])] = &[(1, "a", Some(1), &[1]), (2, "b", Some(2), &[5, 6, 5, 1])];
    assert_eq!(run(Algorithm::References, m), "(1 2)");
    // Duplicate Message-IDs: the second is a message of its own.
    let m: &[(u32, &str, Option<u32>, &[u32])] = &[(1, "a", Some(9), &[]), (2, "b", Some(9), &[]), (3, "c", Some(3), &[9])];
    assert_eq!(run(Algorithm::References, m), "(1 3)(2)");
}

#[test]
fn ordered_subject() {
    let m: &[(u32, &str, Option<u32>, &[u32])] =
        &[(1, "b", None, &[]), (2, "Re: a", None, &[]), (3, "a", None, &[]), (4, "B", None, &[]), (5, "c", None, &[]), (6, "a", None, &[])];
    assert_eq!(run(Algorithm::OrderedSubject, m), "(1 4)(2 (3)(6))(5)");
    assert_eq!(run(Algorithm::OrderedSubject, &[]), "");
}

#[test]
fn refs_orders_threads_by_latest_arrival() {
    let mut t = Threader::new();
    let m = |n, arrival: i64| ThreadMsg { seq: n, id: n, date: i64::from(n), arrival, ..Default::default() };
    t.push(m(1, 10), Some(&id(1)), Vec::<Vec<u8>>::new());
    t.push(m(2, 20), Some(&id(2)), Vec::<Vec<u8>>::new());
    t.push(m(3, 30), Some(&id(3)), [id(1)]);
    let mut out = Vec::new();
    t.thread(Algorithm::Refs).write(&mut out);
    assert_eq!(out, b"(2)(1 3)");
}

// ---- against a literal transcription of Cyrus's steps 1 to 3 ----

/// Cyrus's containers: pointer-linked, children prepended, loop checks by walking
/// the subtree, pruning recursive with splices, as in imap/index.c.
struct Naive {
    msg: Vec<u32>,
    parent: Vec<u32>,
    child: Vec<u32>,
    next: Vec<u32>,
}

impl Naive {
    fn add(&mut self, m: u32) -> u32 {
        self.msg.push(m);
        self.parent.push(NIL);
        self.child.push(NIL);
        self.next.push(NIL);
        (self.msg.len() - 1) as u32
    }

    fn is_desc(&self, p: u32, c: u32) -> bool {
        if p == c {
            return true;
        }
        let mut k = self.child[p as usize];
        while k != NIL {
            if self.is_desc(k, c) {
                return true;
            }
            k = self.next[k as usize];
        }
        false
    }

    fn adopt(&mut self, p: u32, c: u32) {
        self.parent[c as usize] = p;
        self.next[c as usize] = self.child[p as usize];
        self.child[p as usize] = c;
    }

    fn orphan(&mut self, c: u32) {
        let p = self.parent[c as usize];
        let (mut prev, mut cur) = (NIL, self.child[p as usize]);
        while cur != c {
            prev = cur;
            cur = self.next[cur as usize];
        }
        if prev == NIL {
            self.child[p as usize] = self.next[c as usize];
        } else {
            self.next[prev as usize] = self.next[c as usize];
        }
        self.parent[c as usize] = NIL;
        self.next[c as usize] = NIL;
    }

    fn prune(&mut self, parent: u32) {
        let mut prev = NIL;
        let mut cur = self.child[parent as usize];
        let mut next = self.next[cur as usize];
        while cur != NIL {
            loop {
                let c = cur as usize;
                if self.msg[c] == NIL && self.child[c] == NIL {
                    if prev == NIL {
                        self.child[parent as usize] = self.next[c];
                    } else {
                        self.next[prev as usize] = self.next[c];
                    }
                    cur = prev;
                } else if self.msg[c] == NIL && (self.parent[c] != NIL || self.next[self.child[c] as usize] == NIL) {
                    if prev == NIL {
                        self.child[parent as usize] = self.child[c];
                    } else {
                        self.next[prev as usize] = self.child[c];
                    }
                    let mut ch = self.child[c];
                    loop {
                        self.parent[ch as usize] = self.parent[c];
                        if self.next[ch as usize] == NIL {
                            break;
                        }
                        ch = self.next[ch as usize];
                    }
                    self.next[ch as usize] = self.next[c];
                    next = self.child[c];
                    self.child[c] = NIL;
                    self.next[c] = NIL;
                    cur = prev;
                } else if self.child[c] != NIL {
                    self.prune(cur);
                    if self.msg[c] == NIL && self.child[c] == NIL {
                        continue;
                    }
                }
                break;
            }
            prev = cur;
            cur = next;
            next = if cur != NIL { self.next[cur as usize] } else { NIL };
        }
    }

    fn to_forest(&self, root: u32, msgs: Vec<ThreadMsg>) -> Forest {
        fn walk(n: &Naive, c: u32, f: &mut Forest) -> u32 {
            let me = f.push(Node { msg: n.msg[c as usize], children: Vec::new() });
            let mut k = n.child[c as usize];
            while k != NIL {
                let x = walk(n, k, f);
                f.nodes[me as usize].children.push(x);
                k = n.next[k as usize];
            }
            me
        }
        let mut f = Forest { msgs, ..Default::default() };
        let mut k = self.child[root as usize];
        while k != NIL {
            let x = walk(self, k, &mut f);
            f.roots.push(x);
            k = self.next[k as usize];
        }
        f
    }
}

fn naive(alg: Algorithm, msgs: &[ThreadMsg], own: &[Option<u32>], refs: &[Vec<u32>]) -> Vec<u8> {
    let mut n = Naive { msg: vec![], parent: vec![], child: vec![], next: vec![] };
    let ids = own.iter().flatten().chain(refs.iter().flatten()).max().map_or(0, |m| m + 1);
    for _ in 0..ids {
        n.add(NIL);
    }
    for (i, m_refs) in refs.iter().enumerate() {
        let cur = match own[i] {
            Some(id) if n.msg[id as usize] == NIL => {
                n.msg[id as usize] = i as u32;
                id
            }
            _ => n.add(i as u32),
        };
        let mut parent = NIL;
        for &r in m_refs {
            if n.parent[r as usize] == NIL && parent != NIL && !n.is_desc(r, parent) {
                n.adopt(parent, r);
            }
            parent = r;
        }
        if n.parent[cur as usize] != NIL {
            n.orphan(cur);
        }
        if parent != NIL && !n.is_desc(cur, parent) {
            n.adopt(parent, cur);
        }
    }
    let root = n.add(NIL);
    for x in 0..root {
        if n.parent[x as usize] == NIL {
            n.next[x as usize] = n.child[root as usize];
            n.child[root as usize] = x;
        }
    }
    let mut out = Vec::new();
    if n.child[root as usize] == NIL {
        return out;
    }
    n.prune(root);
    let mut f = n.to_forest(root, msgs.to_vec());
    match alg {
        Algorithm::References => f.references(),
        _ => f.refs(),
    }
    f.write(&mut out);
    out
}

#[test]
fn agrees_with_cyrus_transcription() {
    let mut seed = 42u64;
    let mut rnd = |m: u32| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 33) as u32) % m
    };
    let subjects = ["a", "Re: a", "b", "Fwd: b", "", "c"];
    for round in 0..3000 {
        let count = 1 + rnd(25);
        let pool = count + 4;
        let mut msgs = Vec::new();
        let mut own = Vec::new();
        let mut refs = Vec::new();
        for k in 0..count {
            let subject = subjects[rnd(subjects.len() as u32) as usize];
            let b = crate::subject::extract(subject);
            // Few distinct dates, so that ties go to the sequence number.
            msgs.push(ThreadMsg { seq: k + 1, id: k + 1, date: i64::from(rnd(6)), arrival: i64::from(rnd(6)), subject: b.key(), is_refwd: b.is_refwd });
            own.push(if rnd(8) == 0 { None } else { Some(rnd(pool)) });
            refs.push((0..rnd(6)).map(|_| rnd(pool)).collect::<Vec<u32>>());
        }
        for alg in [Algorithm::References, Algorithm::Refs] {
            let mut t = Threader::new();
            for k in 0..count as usize {
                t.push(msgs[k].clone(), own[k].map(id).as_deref(), refs[k].iter().map(|&r| id(r)));
            }
            // The threader interns ids in order of appearance: map the naive ids alike.
            let mut map = std::collections::HashMap::new();
            let mut intern = |x: u32| {
                let n = map.len() as u32;
                *map.entry(x).or_insert(n)
            };
            let mut own2 = Vec::new();
            let mut refs2 = Vec::new();
            for k in 0..count as usize {
                own2.push(own[k].map(&mut intern));
                refs2.push(refs[k].iter().map(|&r| intern(r)).collect::<Vec<u32>>());
            }
            let mut got = Vec::new();
            t.thread(alg).write(&mut got);
            let want = naive(alg, &msgs, &own2, &refs2);
            assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want), "round {round} {alg:?}: own {own:?} refs {refs:?}");
        }
    }
}

// ---- bounded on hostile mail ----

fn count_ids(out: &[u8]) -> usize {
    out.split(|&c| c == b' ' || c == b'(' || c == b')').filter(|w| !w.is_empty()).count()
}

/// A chain `depth` messages deep (each In-Reply-To the one before), written flat.
fn deep_chain(depth: u32) {
    let mut t = Threader::new();
    for n in 1..=depth {
        t.push(msg(n, "deep"), Some(&id(n)), (n > 1).then(|| id(n - 1)));
    }
    let mut out = Vec::new();
    t.thread(Algorithm::References).write(&mut out);
    assert_eq!(out.len(), (1..=depth).map(|n| n.to_string().len() + 1).sum::<usize>() + 1);
    assert!(out.starts_with(b"(1 2 3 ") && out.ends_with(format!(" {depth})").as_bytes()));
}

#[test]
fn deep_chain_10k() {
    deep_chain(10_000);
}

/// Every message of a group references every other (forward references and loops
/// everywhere), in scrambled order.
fn all_reference_all(t: &mut Threader, first: u32, n: u32, seq: &mut u32) {
    for k in 0..n {
        let refs: Vec<Vec<u8>> = (0..n).map(|j| id(first + (j * 7919 + k) % n)).collect();
        *seq += 1;
        t.push(msg(*seq, "all"), Some(&id(first + k)), refs);
    }
}

#[test]
fn all_reference_all_300() {
    for alg in [Algorithm::References, Algorithm::Refs] {
        let mut t = Threader::new();
        all_reference_all(&mut t, 1, 300, &mut 0);
        let mut out = Vec::new();
        t.thread(alg).write(&mut out);
        assert_eq!(count_ids(&out), 300, "{alg:?}");
    }
}

/// 100 000 messages: a 50 000-deep chain delivered newest first (so that nearly
/// every message leaves a parent, step 1B, and takes its subtree along), 2 000-id
/// References on 500 messages, 24 250 pairs that name each other as parent, and a
/// group of 1 000 that all reference each other.
fn pathological() -> Threader {
    let mut t = Threader::new();
    let mut seq = 0u32;
    let mut next = |t: &mut Threader, own: u32, refs: Vec<Vec<u8>>| {
        seq += 1;
        t.push(msg(seq, "Re: pathological"), Some(&id(own)), refs);
    };
    for k in (1..=50_000u32).rev() {
        next(&mut t, k, (k.saturating_sub(20).max(1)..k).map(id).collect());
    }
    for k in 0..500u32 {
        next(&mut t, 100_000 + k, (0..2000u32).map(|j| id(200_000 + (k * 31 + j * 17) % 40_000)).collect());
    }
    for k in 0..24_250u32 {
        let a = 300_000 + 2 * k;
        next(&mut t, a, vec![id(a + 1)]);
        next(&mut t, a + 1, vec![id(a)]);
    }
    all_reference_all(&mut t, 400_000, 1000, &mut seq);
    t
}

/// In CI (about 9 s in a debug build); `cargo test --release -p sortthread
/// pathological -- --nocapture` prints the times.
#[test]
fn pathological_100k() {
    let start = std::time::Instant::now();
    for alg in [Algorithm::References, Algorithm::Refs, Algorithm::OrderedSubject] {
        let t0 = std::time::Instant::now();
        let t = pathological();
        assert_eq!(t.len(), 100_000);
        let built = t0.elapsed();
        let f = t.thread(alg);
        let mut out = Vec::new();
        f.write(&mut out);
        assert_eq!(count_ids(&out), 100_000, "{alg:?}");
        println!("{alg:?}: ids read in {built:?}, threaded and written in {:?}", t0.elapsed() - built);
    }
    let t0 = std::time::Instant::now();
    deep_chain(100_000);
    println!("100 000-deep chain: {:?}", t0.elapsed());
    assert!(start.elapsed().as_secs() < 120);
}
