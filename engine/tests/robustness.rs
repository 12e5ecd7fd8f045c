//! Robustness: arbitrary bytes, mutated valid manifests and hostile fragments (deep nesting,
//! alias bombs, control characters, byte order marks, overflowing numbers and durations) fed to
//! the loader (and, when they load, to resolution and planning) and to the compose importer never
//! panic, and the importer refuses what is over the input limits before parsing it. Fixed seeds keep the
//! run reproducible; `cargo test` runs it, so CI fuzzes the loader for a bounded number of cases.

use std::collections::BTreeMap;

use engine::compose::{translate, ComposeInput};
use engine::observed::{ContainerState, ObservedContainer};
use engine::sops::DataKey;
use engine::spec::SecretValue;
use engine::{Environment, Observed, PlanOptions, ResolveInput, Secrets, SourceFile};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

const NODE: &str = "apiVersion: run.orcra.dev/v0alpha
kind: Node
metadata:
  name: web-01
spec:
  host: 10.0.0.1
  gitRepo: git@example.com:acme/infra.git
  gitBranch: feat/x
  pollInterval: 1m30s
";

const DEPLOYMENT: &str = "apiVersion: run.orcra.dev/v0alpha
kind: Deployment
metadata:
  name: web
spec:
  image: nginx:alpine
  pullPolicy: Always
  command: [\"nginx\", \"-g\", \"daemon off;\"]
  ports:
    - containerPort: 80
      port: 8080
      protocol: tcp
      hostIP: 127.0.0.1
  volumes:
    - hostPath: /srv/web
      containerPath: /data
      readOnly: true
  env:
    LOG_LEVEL: info
    WORKERS: 4
    TOKEN: ENC[AES256_GCM,data:Zm9v,iv:YmFy,tag:YmF6,type:str]
  health:
    readiness:
      http: localhost:80/health
      interval: 2s
    liveness:
      http: localhost:80/health
      failureThreshold: 3
  stopTimeout: 30s
";

const SERVICE: &str = "apiVersion: run.orcra.dev/v0alpha
kind: Service
metadata:
  name: web
spec:
  deployment: web
  port: 80
  ingress:
    domain:
      default: web.example.com
      environment: $ENV.web.example.com
    ssl: true
";

fn config(seed: u64) -> Config {
    Config {
        cases: 1500,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Runs the whole pure pipeline on `sources`; only panics matter here.
fn exercise(sources: &[SourceFile]) {
    let Ok(manifests) = engine::load(sources) else {
        return;
    };
    let key = DataKey::new([7; 32]).fingerprint_key();
    let secret = |value: &str| SecretValue::new(value.into(), &key);
    let secrets = Secrets {
        shared: BTreeMap::from([("SHARED".into(), secret("s"))]),
        inline: BTreeMap::from([(
            "web".into(),
            BTreeMap::from([("TOKEN".into(), secret("t"))]),
        )]),
    };
    let build_tags: BTreeMap<String, String> = manifests
        .deployments
        .keys()
        .map(|name| (name.clone(), format!("orun.local/{name}:000000000000")))
        .collect();
    for environment in [
        Environment::production(),
        Environment::from_branch("feat/x").unwrap(),
    ] {
        let input = ResolveInput {
            environment,
            commit: "c".into(),
            secrets: &secrets,
            build_tags: &build_tags,
            files: &BTreeMap::new(),
            missing_keys: engine::MissingKeys::Refused,
        };
        let Ok(desired) = engine::resolve(&manifests, &input) else {
            continue;
        };
        let empty = Observed::default();
        let _ = engine::plan(&desired, &empty, &PlanOptions::default());
        let applied = Observed {
            containers: desired
                .deployments
                .values()
                .map(|d| ObservedContainer {
                    id: d.container.clone(),
                    name: d.container.clone(),
                    image: d.spec.image.clone(),
                    image_id: "sha256:1".into(),
                    state: ContainerState::Exited,
                    labels: (*d.labels).clone(),
                    resources: d.resources,
                    address: None,
                    started_at: None,
                })
                .collect(),
            ..Observed::default()
        };
        let options = PlanOptions {
            allow_empty: true,
            new_commit: true,
            ..PlanOptions::default()
        };
        let _ = engine::plan(&desired, &applied, &options);
    }
}

fn files(node: String, deployment: String, service: String) -> Vec<SourceFile> {
    vec![
        SourceFile {
            path: "nodes/web-01.yaml".into(),
            text: node,
        },
        SourceFile {
            path: "deployments/web.yaml".into(),
            text: deployment,
        },
        SourceFile {
            path: "services/web.yaml".into(),
            text: service,
        },
    ]
}

#[derive(Clone, Debug)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let yamlish = prop::sample::select(vec![
        ":",
        " ",
        "\n",
        "-",
        "[",
        "]",
        "{",
        "}",
        "'",
        "\"",
        "#",
        "&a",
        "*a",
        "!!",
        "?",
        "|",
        ">",
        "0",
        "-1",
        "65536",
        "null",
        "~",
        "true",
        "1e999",
        "$ENV",
        "..",
        "/",
        "\t",
        "é",
        "\u{0}",
        "\u{feff}",
        "\u{1b}[2J",
        "\"\\e\"",
        "\"\\0\"",
        "\u{9b}",
        "&b [*b]",
        "*b",
        "[[[[[[[[",
        "{a: {a: {a: ",
        "- - - - ",
        "18446744073709551600s",
        "500000000000y",
        "25h",
        "99999999999999999999999",
        "nginx;rm -rf /",
    ]);
    prop_oneof![
        (any::<usize>(), 0usize..20).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), prop::collection::vec(yamlish, 1..4)).prop_map(|(at, parts)| {
            Mutation::Insert {
                at,
                text: parts.concat(),
            }
        }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let boundary = |at: usize| {
        let mut index = at % (text.len() + 1);
        while !text.is_char_boundary(index) {
            index -= 1;
        }
        index
    };
    match mutation {
        Mutation::Delete { at, len } => {
            let start = boundary(*at);
            let end = boundary(start.saturating_add(*len)).max(start);
            format!("{}{}", &text[..start], &text[end..])
        }
        Mutation::Insert { at, text: inserted } => {
            let at = boundary(*at);
            format!("{}{inserted}{}", &text[..at], &text[at..])
        }
        Mutation::DuplicateLine { line } => {
            let mut lines: Vec<&str> = text.lines().collect();
            if lines.is_empty() {
                return text.to_string();
            }
            let index = line % lines.len();
            lines.insert(index, lines[index]);
            lines.join("\n")
        }
        Mutation::SwapLines { a, b } => {
            let mut lines: Vec<&str> = text.lines().collect();
            if lines.is_empty() {
                return text.to_string();
            }
            let count = lines.len();
            lines.swap(a % count, b % count);
            lines.join("\n")
        }
    }
}

/// A fragment built to be expensive or confusing: nesting, aliases expanding each other, repeated
/// keys, or long runs of one character.
fn hostile_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        (1usize..5000).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        (1usize..5000).prop_map(|depth| "{a: ".repeat(depth)),
        (1usize..3000).prop_map(|depth| format!("{}x", "- ".repeat(depth))),
        (1usize..12, 1usize..12).prop_map(|(levels, width)| {
            let mut text = format!("a0: &a0 [{}]\n", vec!["x"; width].join(", "));
            for level in 1..levels {
                let items = vec![format!("*a{}", level - 1); width].join(", ");
                text.push_str(&format!("a{level}: &a{level} [{items}]\n"));
            }
            text
        }),
        (any::<char>(), 1usize..20_000).prop_map(|(c, count)| c.to_string().repeat(count)),
    ]
}

#[test]
fn valid_fixture_loads() {
    let sources = files(NODE.into(), DEPLOYMENT.into(), SERVICE.into());
    engine::load(&sources).expect("the fixture the mutations start from is valid");
}

proptest! {
    #![proptest_config(config(0x6f72_756e))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes).to_string();
        exercise(&files(text.clone(), text.clone(), text));
    }
}

proptest! {
    #![proptest_config(config(0x706c_616e))]

    #[test]
    fn mutated_manifests_never_panic(mutations in prop::collection::vec(mutation(), 1..6), target in 0usize..3) {
        let mut texts = [NODE.to_string(), DEPLOYMENT.to_string(), SERVICE.to_string()];
        for mutation in &mutations {
            texts[target] = apply(&texts[target], mutation);
        }
        let [node, deployment, service] = texts;
        exercise(&files(node, deployment, service));
    }
}

proptest! {
    #![proptest_config(Config { cases: 300, ..config(0x686f_7374) })]

    #[test]
    fn hostile_fragments_never_panic(fragment in hostile_fragment(), at in any::<usize>(), target in 0usize..3) {
        let mut texts = [NODE.to_string(), DEPLOYMENT.to_string(), SERVICE.to_string()];
        let insert = Mutation::Insert { at, text: fragment };
        texts[target] = apply(&texts[target], &insert);
        let [node, deployment, service] = texts;
        exercise(&files(node, deployment, service));
    }
}

const COMPOSE: &str = "services:
  web:
    image: nginx:${TAG:-alpine}
    ports:
      - \"8080:80\"
    env_file: web.env
    volumes:
      - ./data:/data
    healthcheck:
      test: [\"CMD\", \"true\"]
";

/// Imports `text` as a compose file; only panics matter here.
fn import(text: &str) {
    let environment = BTreeMap::new();
    let read = |_: &str| Ok(Some("A=1\n".to_string()));
    let _ = translate(&ComposeInput {
        text,
        environment: &environment,
        dotenv: None,
        read_env_file: &read,
        compose_dir: "/srv/app",
        compose_dir_from_out: Some(""),
        node_host: Some("10.0.0.5"),
        git_repo: "/srv/app",
    });
}

proptest! {
    #![proptest_config(Config { cases: 300, ..config(0x636f_6d70) })]

    #[test]
    fn hostile_compose_files_never_panic(fragment in hostile_fragment(), mutations in prop::collection::vec(mutation(), 0..4), at in any::<usize>()) {
        let mut text = apply(COMPOSE, &Mutation::Insert { at, text: fragment });
        for mutation in &mutations {
            text = apply(&text, mutation);
        }
        import(&text);
    }
}
