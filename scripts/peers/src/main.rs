//! `peers LIB MASKS MODE FILE`: mines FILE's lines with the drain3 crate
//! or logdrain (LIB), without masks or with Drain3's standard masks
//! (MASKS: `none` or `drain3`), and in MODE `parse` writes each line's
//! template id as JSON Lines, as `anomalizer parse` writes each line's
//! template; in MODE `mine` only the number of templates (ids seen) at
//! the end.

use std::io::{BufRead, BufReader, BufWriter, Write};

/// Drain3's drain3.ini masks (ID, IP, SEQ, HEX, NUM) in Rust's regex
/// syntax, `\b` standing for their look-arounds, which it lacks.
const DRAIN3_MASKS: [(&str, &str); 6] = [
    (r"\b([0-9a-f]{2,}:){3,}[0-9a-f]{2,}\b", "<ID>"),
    (r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", "<IP>"),
    (r"\b([0-9a-f]{6,} ?){3,}\b", "<SEQ>"),
    (r"\b([0-9A-F]{4} ?){4,}\b", "<SEQ>"),
    (r"\b0x[a-f0-9A-F]+\b", "<HEX>"),
    (r"\b[\-\+]?\d+\b", "<NUM>"),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, lib, masks, mode, path] = args.as_slice() else {
        panic!("usage: peers drain3|logdrain none|drain3 mine|parse FILE");
    };
    let masked = masks == "drain3";
    let parse = mode == "parse";
    let lines = BufReader::new(std::fs::File::open(path).expect("FILE opens")).lines();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut n = 0u64;
    let mut ids = std::collections::HashSet::new();
    let mut emit = |id: u64| {
        n += 1;
        ids.insert(id);
        if parse {
            writeln!(out, "{{\"line\":{n},\"template_id\":{id}}}").expect("stdout");
        }
    };
    match lib.as_str() {
        "logdrain" => {
            let mut builder = logdrain::Miner::builder().sim_threshold(0.4).depth(4);
            if masked {
                let masks = DRAIN3_MASKS.map(|(p, m)| logdrain::Mask::new(p, m).expect("mask"));
                builder = builder.masks(masks);
            }
            let miner = builder.build().expect("options");
            for line in lines {
                emit(miner.add(&line.expect("utf-8 line")).cluster_id);
            }
        }
        "drain3" => {
            let masking = if masked {
                DRAIN3_MASKS
                    .map(|(p, m)| drain3::MaskingInstruction {
                        pattern: p.into(),
                        mask: m.into(),
                    })
                    .to_vec()
            } else {
                Vec::new()
            };
            let config = drain3::Config::builder()
                .similarity_threshold(0.4)
                .depth(4)
                // Every line mined, however long (the defaults refuse some).
                .max_tokens(1 << 16)
                .max_bytes(1 << 24)
                .masking(masking)
                .build();
            let mut miner = drain3::Matcher::new(config);
            for line in lines {
                let template = miner
                    .add_log_message(&line.expect("utf-8 line"))
                    .expect("mined");
                emit(template.id() as u64);
            }
        }
        other => panic!("unknown LIB {other}"),
    }
    drop(out);
    eprintln!("{} templates", ids.len());
}
