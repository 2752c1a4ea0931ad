//! Drives the whole public inspect API with arbitrary bytes: default limits, limits small
//! enough to trip, the report's serialization, and the error line for failures.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runbase::report::ErrorLine;
use runbase::{Limits, Options};

fuzz_target!(|data: &[u8]| {
    let check = |options: &Options| match runbase::inspect_bytes("fuzz", data, options) {
        Ok(report) => {
            let json = serde_json::to_string(&report).expect("a report always serializes");
            assert!(json.contains("\"schema_version\":1"));
        }
        Err(error) => {
            let line = ErrorLine::new("fuzz", &error);
            assert_eq!(line.error.kind, error.kind());
            let json = serde_json::to_string(&line).expect("an error line always serializes");
            assert!(json.contains(&format!("\"kind\":\"{}\"", error.kind())));
        }
    };
    check(&Options::default());
    // Tight limits, chosen by the input's last byte, so limit paths are fuzzed too.
    let knob = usize::from(data.last().copied().unwrap_or(0));
    let mut limits = Limits::default();
    limits.max_needed = knob % 8;
    limits.max_string_bytes = knob.max(1);
    limits.max_program_headers = knob % 16;
    limits.max_section_headers = knob % 64;
    limits.max_dynamic_symbols = knob * 4;
    limits.max_version_bytes = knob * 8;
    limits.max_note_bytes = knob * 8;
    limits.max_notes = knob % 8;
    limits.scan_budget_bytes = (knob * 64) as u64;
    check(&Options::with_limits(limits));
});
