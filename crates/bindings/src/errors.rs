//! The contract's custom errors in words: what went wrong and, where there is one, what to do about it. The
//! CLI and the worker print these instead of raw revert data.
//!
//! The words are templates in `errors.json` (beside this file), one per error of the ABI: `{name}` stands for
//! an argument as it is (decimal numbers, checksummed addresses), `{name:kind}` for one read as a `taskState`,
//! `phase`, `memberState` or `jobField` (the enums of `IDistributedRender.sol`) or as a `time` (unix seconds).
//! The web app renders the same file (`web/src/generated/errors.ts`, written by `scripts/gen-bindings.cjs`),
//! so a revert reads the same in the CLI, the worker's log and the browser.

use crate::{JobField, MemberState, Phase, TaskState};
use alloy::dyn_abi::{DynSolValue, JsonAbiExt};
use alloy::json_abi::{Error as AbiError, JsonAbi};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The templates, by error name.
static WORDS: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    let mut m: HashMap<String, String> = serde_json::from_str(include_str!("errors.json"))
        .expect("errors.json is a JSON object of strings");
    m.remove("_comment");
    m
});

/// The market's errors, by selector.
static ABI_ERRORS: LazyLock<HashMap<[u8; 4], AbiError>> = LazyLock::new(|| {
    #[derive(serde::Deserialize)]
    struct Artifact {
        abi: JsonAbi,
    }
    let a: Artifact = serde_json::from_str(include_str!("../artifacts/DistributedRender.json"))
        .expect("the committed artifact has an ABI");
    a.abi
        .errors()
        .map(|e| (e.selector().0, e.clone()))
        .collect()
});

fn enum_name<T: TryFrom<u8>>(
    v: &DynSolValue,
    what: &str,
    name: impl Fn(T) -> &'static str,
) -> String {
    // The decoder does not range-check a uint8 word: any 256-bit value may arrive (a token's or a node's
    // revert data passed up), and is named as the number it is.
    let DynSolValue::Uint(n, _) = v else {
        return format!("{v:?}");
    };
    u8::try_from(*n)
        .ok()
        .and_then(|b| T::try_from(b).ok())
        .map_or_else(|| format!("{what} {n}"), |v| name(v).to_owned())
}

fn render(v: &DynSolValue, kind: Option<&str>) -> String {
    match kind {
        Some("taskState") => enum_name(v, "state", |s: TaskState| s.as_str()).to_lowercase(),
        Some("phase") => enum_name(v, "phase", |p: Phase| p.as_str()),
        Some("memberState") => enum_name(v, "state", |s: MemberState| s.as_str()),
        Some("jobField") => enum_name(v, "field", |f: JobField| f.as_str()),
        Some("time") => format!("unix time {}", render(v, None)),
        _ => match v {
            DynSolValue::Uint(u, _) => u.to_string(),
            DynSolValue::Int(i, _) => i.to_string(),
            DynSolValue::Address(a) => a.to_string(),
            DynSolValue::Bool(b) => b.to_string(),
            DynSolValue::FixedBytes(w, n) => alloy::hex::encode_prefixed(&w[..*n]),
            DynSolValue::Bytes(b) => alloy::hex::encode_prefixed(b),
            DynSolValue::String(s) => s.clone(),
            other => format!("{other:?}"),
        },
    }
}

/// `template` with each `{name}` or `{name:kind}` replaced by that argument of the error.
fn fill(template: &str, names: &[String], values: &[DynSolValue]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let field = &rest[open + 1..open + close];
        let (name, kind) = field
            .split_once(':')
            .map_or((field, None), |(n, k)| (n, Some(k)));
        match names
            .iter()
            .position(|n| n == name)
            .and_then(|i| values.get(i))
        {
            Some(v) => out.push_str(&render(v, kind)),
            None => out.push_str(&rest[open..=open + close]),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// The market's revert `data` (selector and arguments) in words, when it is one of its errors.
pub fn explain_revert(data: &[u8]) -> Option<String> {
    let selector: [u8; 4] = data.get(..4)?.try_into().ok()?;
    let error = ABI_ERRORS.get(&selector)?;
    let values = error.abi_decode_input(&data[4..]).ok()?;
    let names: Vec<String> = error.inputs.iter().map(|p| p.name.clone()).collect();
    let template = WORDS.get(&error.name)?;
    Some(fill(template, &names, &values))
}

/// The revert reason of a failed call in words, when it is one of the contract's errors.
pub fn explain(err: &alloy::contract::Error) -> Option<String> {
    explain_revert(&err.as_revert_data()?)
}

/// `explain`, else the error as alloy reports it.
pub fn describe(err: &alloy::contract::Error) -> String {
    explain(err).unwrap_or_else(|| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DistributedRender::{InvalidJobField, TaskNotInState, WrongPhase};
    use alloy::primitives::{Address, U256};
    use alloy::sol_types::SolError;

    #[test]
    fn every_error_of_the_abi_has_words_naming_only_its_arguments() {
        let kinds = ["taskState", "phase", "memberState", "jobField", "time"];
        for e in ABI_ERRORS.values() {
            let t = WORDS
                .get(&e.name)
                .unwrap_or_else(|| panic!("errors.json has no words for {}", e.name));
            let mut rest = t.as_str();
            while let Some(open) = rest.find('{') {
                let close = rest[open..].find('}').expect("a closed placeholder") + open;
                let field = &rest[open + 1..close];
                let (name, kind) = field
                    .split_once(':')
                    .map_or((field, None), |(n, k)| (n, Some(k)));
                let input = e.inputs.iter().find(|p| p.name == name).unwrap_or_else(|| {
                    panic!("{}: {{{field}}} is not one of its arguments", e.name)
                });
                if let Some(k) = kind {
                    assert!(kinds.contains(&k), "{}: unknown kind {k}", e.name);
                    if k != "time" {
                        assert_eq!(input.ty, "uint8", "{}: {name} is read as an enum", e.name);
                    }
                }
                rest = &rest[close + 1..];
            }
        }
        let names: Vec<&String> = ABI_ERRORS.values().map(|e| &e.name).collect();
        for k in WORDS.keys() {
            assert!(
                names.contains(&k),
                "errors.json has words for {k}, which the ABI lacks"
            );
        }
    }

    #[test]
    fn reverts_read_in_words_with_their_enums_and_times() {
        let e = TaskNotInState {
            jobId: U256::from(7),
            taskIndex: U256::from(3),
            state: 3,
        };
        assert_eq!(
            explain_revert(&e.abi_encode()).as_deref(),
            Some("task 3 of job 7 is paid, which does not allow this")
        );
        let e = WrongPhase {
            jobId: U256::from(1),
            taskIndex: U256::ZERO,
            phase: 5,
        };
        assert!(
            explain_revert(&e.abi_encode())
                .expect("words")
                .contains("its Appealable phase")
        );
        let e = InvalidJobField {
            field: 7,
            value: U256::from(5),
        };
        assert_eq!(
            explain_revert(&e.abi_encode()).as_deref(),
            Some("invalid job field CellSize (value 5)")
        );
        // A value past the enum is named as a number, not a wrong name.
        let e = TaskNotInState {
            jobId: U256::from(7),
            taskIndex: U256::from(3),
            state: 9,
        };
        assert!(
            explain_revert(&e.abi_encode())
                .expect("words")
                .contains("is state 9,")
        );
        let e = crate::DistributedRender::DeadlineNotReached {
            jobId: U256::from(2),
            deadline: U256::from(1_700_000_000u64),
        };
        assert!(
            explain_revert(&e.abi_encode())
                .expect("words")
                .starts_with("job 2's deadline is unix time 1700000000:")
        );
        let e = crate::DistributedRender::NotArtist {
            jobId: U256::from(2),
            caller: Address::repeat_byte(0xab),
        };
        assert!(
            explain_revert(&e.abi_encode()).expect("words").starts_with(
                "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB is not the artist of job 2"
            )
        );
        // An enum word past 64 bits (the decoder does not check a uint8's range): a number, no panic.
        let mut data = TaskNotInState {
            jobId: U256::from(7),
            taskIndex: U256::from(3),
            state: 0,
        }
        .abi_encode();
        data[4 + 64..4 + 96].copy_from_slice(&U256::MAX.to_be_bytes::<32>());
        assert!(
            explain_revert(&data)
                .expect("words")
                .contains(&format!("is state {},", U256::MAX))
        );
        // Not one of the market's errors, or cut short: no words.
        assert_eq!(explain_revert(&[0xde, 0xad, 0xbe, 0xef]), None);
        assert_eq!(
            explain_revert(
                &TaskNotInState {
                    jobId: U256::from(1),
                    taskIndex: U256::ZERO,
                    state: 0
                }
                .abi_encode()[..20]
            ),
            None
        );
    }
}
