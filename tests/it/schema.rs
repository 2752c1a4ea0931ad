//! The JSON Schema published in `schema/` is the one generated from the Rust types, and it is
//! a valid schema. (Every report the tests produce is validated against it: see
//! `support::check_schema`.) Set RUNBASE_UPDATE_SCHEMA=1 to rewrite the files after a change
//! to the report types.

use std::path::Path;

fn check_file(name: &str, schema: schemars::Schema) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema")
        .join(name);
    let generated = serde_json::to_string_pretty(&schema).unwrap() + "\n";
    if std::env::var_os("RUNBASE_UPDATE_SCHEMA").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (RUNBASE_UPDATE_SCHEMA=1 writes it)",
            path.display()
        )
    });
    assert_eq!(
        committed,
        generated,
        "{} is stale: run the tests with RUNBASE_UPDATE_SCHEMA=1",
        path.display()
    );
    let value: serde_json::Value = serde_json::from_str(&committed).unwrap();
    jsonschema::validator_for(&value).expect("a valid JSON Schema");
}

#[test]
fn published_schemas_are_current() {
    check_file("report.schema.json", runbase::report_schema());
    check_file("error-line.schema.json", runbase::error_line_schema());
}

#[test]
fn schema_requires_every_contract_key() {
    let schema = serde_json::to_value(runbase::report_schema()).unwrap();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for key in [
        "schema_version",
        "path",
        "elf",
        "platform",
        "linkage",
        "executable",
        "interpreter",
        "needed",
        "soname",
        "rpath",
        "runpath",
        "libc",
        "go",
        "rust",
        "size",
        "needs",
        "closure",
        "recommendation",
    ] {
        assert!(
            required.contains(&key),
            "{key} is not required: {required:?}"
        );
    }
}

/// The words the contract (ARCHITECTURE.md) fixes are the only ones the schema admits.
#[test]
fn schema_lists_the_fixed_words() {
    let schema = serde_json::to_value(runbase::report_schema()).unwrap();
    let error_schema = serde_json::to_value(runbase::error_line_schema()).unwrap();
    let words_in = |schema: &serde_json::Value, def: &str| -> Vec<String> {
        let variants = schema["$defs"][def]["oneOf"]
            .as_array()
            .unwrap_or_else(|| panic!("{def} is not an enum in the schema"));
        variants
            .iter()
            .map(|v| v["const"].as_str().expect("a word").to_string())
            .collect()
    };
    let words = |def: &str| words_in(&schema, def);
    let kinds = [
        "ca_certificates",
        "dlopen",
        "etc_file",
        "gconv",
        "libgcc_s",
        "locale",
        "nss",
        "shell",
        "tzdata",
    ];
    assert_eq!(words("NeedKind"), kinds);
    assert_eq!(words("Verdict"), ["works", "works_with_files", "fails"]);
    assert_eq!(words("Policy"), ["smallest", "debuggable", "distroless"]);
    assert_eq!(words("CrateKind"), ["build", "runtime"]);
    let errors = [
        "not_elf",
        "truncated",
        "malformed",
        "unsupported",
        "limit_exceeded",
        "io",
    ];
    assert_eq!(words_in(&error_schema, "ErrorKind"), errors);
    assert!(words("Code").contains(&"libc_mismatch".to_string()));
    // A version is a string of dotted numbers.
    assert_eq!(schema["$defs"]["Version"]["type"], "string");
}
