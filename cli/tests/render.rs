//! The human form of plans: a few plan cases from `testdata/` rendered as the table, per-field
//! diffs and summary an operator sees, and the header of a node's share and of a plan that did
//! not apply placement, compared with `snapshots/human/<case>.snap`. The plans
//! themselves are checked case by case next to the planner (`engine/tests/plan_cases.rs`).

use std::fs;
use std::path::Path;

use adapters::revision::WorkTree;
use engine::revision::{self, NodeAndEnvironment};
use engine::{Observed, PlanOptions};
use orun::render::plan::Header;
use orun::render::{self, Style};

const CASE_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Cases that between them show every part of the human output.
const CASES: [&str; 7] = [
    "converged-no-changes",
    "every-phase-in-order",
    "env-change-recreates",
    "name-conflict-blocks",
    "resources-change-updates-in-place",
    "job-changed-runs",
    "job-failed-blocks-before",
];

#[test]
fn plans_render_as_tables_diffs_and_summaries() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for name in CASES {
        let case = root.join("testdata").join(name);
        let tree = WorkTree::new(&case.join("repo"), None);
        let revision = revision::desired_state(&tree, CASE_COMMIT, &NodeAndEnvironment::default())
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        let observed: Observed =
            serde_json::from_str(&fs::read_to_string(case.join("observed.json")).unwrap()).unwrap();
        let options = PlanOptions {
            new_commit: true,
            ..PlanOptions::default()
        };
        let plan = engine::plan(&revision.desired, &observed, &options).unwrap();
        insta::with_settings!({
            snapshot_path => root.join("snapshots/human"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, render::plan::human(&plan, Style::PLAIN));
        });
    }
}

/// Placement cases, each with the node it is planned for (none: placement not applied).
const PLACEMENT_CASES: [(&str, Option<&str>); 2] = [
    ("placement-share-by-node-name", Some("web-01")),
    ("placement-no-node-applied", None),
];

#[test]
fn the_header_names_the_node_or_says_that_placement_was_not_applied() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (name, node) in PLACEMENT_CASES {
        let case = root.join("testdata").join(name);
        let tree = WorkTree::new(&case.join("repo"), None);
        let selection = NodeAndEnvironment {
            node: node.map(str::to_string),
            require_node: true,
            ..NodeAndEnvironment::default()
        };
        let revision = revision::desired_state(&tree, CASE_COMMIT, &selection)
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        let plan = engine::plan(
            &revision.desired,
            &Observed::default(),
            &PlanOptions::default(),
        )
        .unwrap();
        let header = Header {
            placement_not_applied: node.is_none(),
        };
        insta::with_settings!({
            snapshot_path => root.join("snapshots/human"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, render::plan::human_with(&plan, Style::PLAIN, header));
        });
    }
}
