// A Rust program whose every allocation goes through vmheap: std's collections (Vec, String,
// BTreeMap, Box), zeroed allocations, and types aligned to 64 bytes (posix_memalign, and the
// realloc of an over-aligned block). Built for wasm32-unknown-unknown by build.sh, with the
// allocator of docs/wasm.md (inserted by build.sh between the markers below, so the docs'
// snippet is the code that runs); built natively with Rust's own allocator for the reference.

// -- allocator --

#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Line {
    words: [u32; 16],
}

/// Deterministic numbers (xorshift32), the same on both targets.
struct Rng(u32);
impl Rng {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

fn mix(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(0x100000001b3)
}

/// The work: `rounds` rounds of building and dropping collections. Returns a checksum of
/// everything computed, and checks the alignment of every over-aligned element.
#[no_mangle]
pub extern "C" fn run(rounds: u32) -> u64 {
    use std::collections::BTreeMap;
    let mut rng = Rng(2463534242);
    let mut h: u64 = 0xcbf29ce484222325;
    for round in 0..rounds {
        // strings grown by push_str (realloc), kept in an ordered map
        let mut map: BTreeMap<u32, String> = BTreeMap::new();
        for i in 0..200u32 {
            let k = rng.next() % 1000;
            let s = map.entry(k).or_insert_with(String::new);
            for _ in 0..(rng.next() % 8) {
                s.push_str(&format!("{}-{};", i, round));
            }
        }
        // remove half of them again
        let keys: Vec<u32> = map.keys().copied().filter(|k| k % 2 == 0).collect();
        for k in keys {
            if let Some(s) = map.remove(&k) {
                h = mix(h, s.len() as u64);
            }
        }
        for (k, v) in &map {
            h = mix(h, *k as u64);
            h = mix(h, v.bytes().map(|b| b as u64).sum());
        }
        // zeroed buffers of varied sizes (alloc_zeroed)
        let mut bufs: Vec<Vec<u8>> = Vec::new();
        for _ in 0..50 {
            let n = (rng.next() % 5000) as usize;
            let mut b = vec![0u8; n];
            if n > 0 {
                b[n / 2] = 7;
            }
            h = mix(h, b.iter().map(|&x| x as u64).sum::<u64>() + n as u64);
            bufs.push(b);
        }
        // over-aligned elements: a Vec<Line> grown one at a time (aligned alloc and realloc)
        let mut lines: Vec<Line> = Vec::new();
        for i in 0..(rng.next() % 300) {
            lines.push(Line { words: [i; 16] });
            if (lines.as_ptr() as usize) % 64 != 0 {
                return 0; // misaligned: the checksum says so
            }
        }
        h = mix(h, lines.iter().map(|l| l.words[15] as u64).sum());
        // boxes of a linked list
        let mut list: Option<Box<(u32, Option<Box<(u32, Option<Box<()>>)>>)>> = None;
        for i in 0..100u32 {
            list = Some(Box::new((i, Some(Box::new((i * 2, Some(Box::new(()))))))));
        }
        if let Some(b) = list {
            h = mix(h, b.0 as u64);
        }
        drop(bufs);
    }
    h
}

/// A block from Rust's allocator, for JavaScript to free (one heap for both).
#[no_mangle]
pub extern "C" fn rust_alloc(size: usize) -> *mut u8 {
    unsafe { std::alloc::alloc(std::alloc::Layout::from_size_align_unchecked(size, 1)) }
}

/// Frees, through Rust's allocator, a block JavaScript allocated.
#[no_mangle]
pub extern "C" fn rust_dealloc(ptr: *mut u8, size: usize) {
    unsafe { std::alloc::dealloc(ptr, std::alloc::Layout::from_size_align_unchecked(size, 1)) }
}

#[allow(dead_code)]
fn main() {
    println!("{}", run(std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(3)));
}
