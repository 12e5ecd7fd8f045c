//! The compose importer setting by setting, on small inline compose files: what each setting
//! becomes, which notes it leaves, and what is listed as untranslatable, with exact paths. That
//! the written manifests load is checked on the real files of `compose_import`.

use std::collections::BTreeMap;

use engine::compose::{translate, ComposeError, ComposeInput, Translation};
use engine::limits::{LimitError, MAX_FILE_BYTES};

/// The inputs of one translation; `env_files` stands in for the compose folder's files.
struct Import {
    environment: BTreeMap<String, String>,
    dotenv: Option<String>,
    env_files: BTreeMap<String, String>,
    from_out: Option<String>,
    node_host: Option<String>,
}

impl Import {
    fn new() -> Self {
        Import {
            environment: BTreeMap::new(),
            dotenv: None,
            env_files: BTreeMap::new(),
            from_out: Some(String::new()),
            node_host: None,
        }
    }

    fn run(&self, text: &str) -> Result<Translation, ComposeError> {
        let read = |name: &str| Ok(self.env_files.get(name).cloned());
        translate(&ComposeInput {
            text,
            environment: &self.environment,
            dotenv: self.dotenv.as_deref(),
            read_env_file: &read,
            compose_dir: "/srv/app",
            compose_dir_from_out: self.from_out.as_deref(),
            node_host: self.node_host.as_deref(),
            git_repo: "/srv/app",
        })
    }

    fn ok(&self, text: &str) -> Translation {
        self.run(text).unwrap()
    }
}

fn spec(translation: &Translation, name: &str) -> serde_yaml::Value {
    let text = &translation.files[&format!("deployments/{name}.yaml")];
    let document: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
    document["spec"].clone()
}

fn yaml(text: &str) -> serde_yaml::Value {
    serde_yaml::from_str(text).unwrap()
}

fn paths(findings: &[engine::compose::Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|finding| finding.path.clone())
        .collect()
}

#[test]
fn image_command_and_entrypoint_strings_split_like_a_shell() {
    let translation = Import::new().ok(
        "services:\n  web:\n    image: nginx:alpine\n    entrypoint: /bin/sh -c\n    command: \"echo 'hello world' && sleep 1\"\n",
    );
    assert_eq!(
        spec(&translation, "web"),
        yaml("image: nginx:alpine\nentrypoint: [/bin/sh, -c]\ncommand: [echo, hello world, '&&', sleep, '1']\n")
    );
    assert_eq!(
        translation.lines(),
        ["services.web: translated to deployments/web.yaml"]
    );
    assert!(translation.untranslatable.is_empty());
}

#[test]
fn build_string_and_object_and_image_dropped() {
    let translation = Import::new().ok(
        "services:\n  api:\n    build: ./api\n  web:\n    image: example/web:1\n    build:\n      context: web\n      dockerfile: docker/Dockerfile.prod\n      target: runtime\n      args:\n        - VERSION=1.10\n        - FROM_ENV\n",
    );
    assert_eq!(spec(&translation, "api"), yaml("build: {context: api}\n"));
    assert_eq!(
        spec(&translation, "web"),
        yaml("build: {context: web, dockerfile: docker/Dockerfile.prod, args: {VERSION: '1.10'}, target: runtime}\n")
    );
    assert_eq!(
        paths(&translation.notes),
        ["services.web.build.args.FROM_ENV", "services.web.image"]
    );
    assert_eq!(
        translation.notes[1].to_string(),
        "services.web.image: dropped, build wins"
    );
}

#[test]
fn build_contexts_follow_the_output_folder() {
    let compose = "services:\n  web:\n    build: ./web\n  tool:\n    build: ../tools\n";
    let mut import = Import::new();
    import.from_out = Some("apps/shop".to_string());
    let translation = import.run(compose).unwrap();
    assert_eq!(
        spec(&translation, "web")["build"]["context"],
        yaml("apps/shop/web")
    );
    assert_eq!(
        spec(&translation, "tool")["build"]["context"],
        yaml("apps/tools")
    );
    import.from_out = Some(String::new());
    let translation = import.run(compose).unwrap();
    assert_eq!(
        paths(&translation.untranslatable),
        ["services.tool.build.context"]
    );
    import.from_out = None;
    let translation = import
        .run("services:\n  web:\n    build:\n      context: .\n")
        .unwrap();
    assert_eq!(
        paths(&translation.untranslatable),
        ["services.web.build.context"]
    );
}

#[test]
fn environment_env_file_and_interpolation() {
    let mut import = Import::new();
    import
        .environment
        .insert("TAG".to_string(), "from-process".to_string());
    import.dotenv = Some("TAG=from-dotenv\nPORT=8080\nPASSED=yes\n".to_string());
    import.env_files.insert(
        "web.env".to_string(),
        "# settings\nA=1\nB='two words'\n".to_string(),
    );
    let translation = import.ok(
        "services:\n  web:\n    image: \"example/web:${TAG}\"\n    env_file: web.env\n    environment:\n      B: override\n      C: ${MISSING:-fallback}\n      D: ${MISSING-dash}\n      E: $${NOT_A_VARIABLE}\n      PASSED:\n      ABSENT:\n    ports:\n      - \"${PORT}:80\"\n",
    );
    assert_eq!(
        spec(&translation, "web"),
        yaml("image: example/web:from-process\nenv: {A: '1', B: override, C: fallback, D: dash, E: '${NOT_A_VARIABLE}', PASSED: 'yes'}\nports: [{containerPort: 80, port: 8080}]\n")
    );
    let notes: Vec<String> = translation.notes.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        [
            "services.web.env_file: web.env inlined into env (2 variables); secrets belong in secrets.yaml",
            "services.web.environment.ABSENT: no value and not set in the environment, left out",
        ]
    );
}

#[test]
fn missing_variables_become_empty_with_a_note_and_required_ones_fail() {
    let translation = Import::new()
        .run("services:\n  web:\n    image: nginx\n    environment:\n      A: x${UNSET}y\n")
        .unwrap();
    assert_eq!(
        translation.notes[0].to_string(),
        "services.web.environment.A: variable UNSET is not set, it became an empty string"
    );
    let error = Import::new()
        .run("services:\n  web:\n    image: ${IMAGE:?set IMAGE}\n")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "services.web.image: variable IMAGE is required: set IMAGE"
    );
}

#[test]
fn missing_env_file_is_untranslatable_unless_optional() {
    let translation = Import::new()
        .run("services:\n  web:\n    image: nginx\n    env_file:\n      - path: optional.env\n        required: false\n      - missing.env\n")
        .unwrap();
    assert_eq!(
        translation.notes[0].to_string(),
        "services.web.env_file: optional.env is optional and missing, skipped"
    );
    assert_eq!(
        translation.untranslatable[0].to_string(),
        "services.web.env_file: cannot read missing.env: no such file"
    );
}

#[test]
fn ports_short_long_ranges_and_expose() {
    let translation = Import::new().ok(
        "services:\n  web:\n    image: nginx\n    ports:\n      - \"8080:80\"\n      - 127.0.0.1:5353:53/udp\n      - 9000-9001:9000-9001\n      - target: 443\n        published: \"8443\"\n        host_ip: 127.0.0.1\n        protocol: tcp\n        mode: host\n    expose:\n      - 80\n      - \"3000\"\n      - 7000-7001/udp\n",
    );
    assert_eq!(
        spec(&translation, "web")["ports"],
        yaml("- {containerPort: 80, port: 8080}\n- {containerPort: 53, port: 5353, protocol: udp, hostIP: 127.0.0.1}\n- {containerPort: 9000, port: 9000}\n- {containerPort: 9001, port: 9001}\n- {containerPort: 443, port: 8443, hostIP: 127.0.0.1}\n- {containerPort: 3000}\n- {containerPort: 7000, protocol: udp}\n- {containerPort: 7001, protocol: udp}\n")
    );
    assert_eq!(paths(&translation.notes), ["services.web.ports[3].mode"]);
}

#[test]
fn a_container_port_alone_is_left_unpublished_with_a_note() {
    let translation =
        Import::new().ok("services:\n  web:\n    image: nginx\n    ports:\n      - 80\n");
    assert_eq!(
        spec(&translation, "web")["ports"],
        yaml("[{containerPort: 80}]")
    );
    assert_eq!(paths(&translation.notes), ["services.web.ports[0]"]);
    let translation = Import::new()
        .run("services:\n  web:\n    image: nginx\n    ports:\n      - 9000-9002:80\n      - 80/sctp\n")
        .unwrap();
    assert_eq!(
        paths(&translation.untranslatable),
        ["services.web.ports[0]", "services.web.ports[1]"]
    );
}

#[test]
fn volumes_bind_named_anonymous_and_tmpfs() {
    let translation = Import::new().ok(
        "services:\n  web:\n    image: nginx\n    volumes:\n      - ./html:/usr/share/nginx/html:ro\n      - /var/log/web:/var/log/nginx\n      - cache_data:/var/cache/nginx\n      - /app/node_modules\n      - type: bind\n        source: ../common\n        target: /shared\n        read_only: true\n      - type: volume\n        source: cache_data\n        target: /cache\n      - type: tmpfs\n        target: /scratch\n    tmpfs:\n      - /run\n    read_only: true\nvolumes:\n  cache_data: {}\n",
    );
    assert_eq!(
        spec(&translation, "web"),
        yaml("image: nginx\nvolumes:\n- {hostPath: /srv/app/html, containerPath: /usr/share/nginx/html, readOnly: true}\n- {hostPath: /var/log/web, containerPath: /var/log/nginx}\n- {name: cache-data, containerPath: /var/cache/nginx}\n- {name: web-app-node-modules, containerPath: /app/node_modules}\n- {hostPath: /srv/common, containerPath: /shared, readOnly: true}\n- {name: cache-data, containerPath: /cache}\ntmpfs: [/scratch, /run]\nreadOnlyRootFilesystem: true\n")
    );
    let notes: Vec<String> = translation.notes.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        [
            "volumes.cache_data: named volume cache-data",
            "services.web.volumes[3]: anonymous volume for /app/node_modules becomes the named volume web-app-node-modules",
        ]
    );
}

#[test]
fn volume_driver_options_are_untranslatable_and_selinux_labels_carry_over() {
    let translation = Import::new()
        .run("services:\n  db:\n    image: postgres\n    volumes:\n      - data:/var/lib/postgresql/data:z\nvolumes:\n  data:\n    driver: local\n    driver_opts:\n      type: nfs\n")
        .unwrap();
    assert_eq!(
        paths(&translation.untranslatable),
        ["volumes.data.driver_opts"]
    );
    assert_eq!(
        spec(&translation, "db")["volumes"],
        yaml("[{name: data, containerPath: /var/lib/postgresql/data, selinux: shared}]")
    );
}

#[test]
fn depends_on_list_and_conditions() {
    let translation = Import::new().ok(
        "services:\n  web:\n    image: nginx\n    depends_on: [api]\n  api:\n    image: api\n    depends_on:\n      db:\n        condition: service_healthy\n        restart: true\n      cache:\n        condition: service_started\n  db:\n    image: postgres\n  cache:\n    image: redis\n",
    );
    assert_eq!(spec(&translation, "web")["dependsOn"], yaml("[api]"));
    assert_eq!(spec(&translation, "api")["dependsOn"], yaml("[cache, db]"));
    assert_eq!(
        paths(&translation.notes),
        ["services.api.depends_on.db.restart"]
    );
    let translation = Import::new()
        .run("services:\n  app:\n    image: app\n    depends_on:\n      cache:\n        condition: service_ready\n  cache:\n    image: redis\n")
        .unwrap();
    assert_eq!(
        paths(&translation.untranslatable),
        ["services.app.depends_on.cache.condition"]
    );
}

#[test]
fn a_one_shot_service_others_wait_to_complete_becomes_a_job_that_runs_before_them() {
    let translation = Import::new().ok(
        "services:\n  web:\n    image: app\n    depends_on:\n      migrate:\n        condition: service_completed_successfully\n      db:\n        condition: service_healthy\n  worker:\n    image: app\n    depends_on:\n      migrate:\n        condition: service_completed_successfully\n  migrate:\n    image: app\n    command: [\"./manage\", \"migrate\"]\n    restart: \"no\"\n    depends_on: [db]\n    volumes: [\"data:/data\"]\n  db:\n    image: postgres\nvolumes:\n  data: {}\n",
    );
    assert!(
        translation.untranslatable.is_empty(),
        "{:?}",
        translation.untranslatable
    );
    assert!(!translation.files.contains_key("deployments/migrate.yaml"));
    let job: serde_yaml::Value =
        serde_yaml::from_str(&translation.files["jobs/migrate.yaml"]).unwrap();
    assert_eq!(job["kind"], yaml("Job"));
    assert_eq!(job["spec"]["runOn"], yaml("change"));
    assert_eq!(job["spec"]["before"], yaml("[web, worker]"));
    assert_eq!(job["spec"]["command"], yaml("[./manage, migrate]"));
    assert_eq!(spec(&translation, "web")["dependsOn"], yaml("[db]"));
    assert!(spec(&translation, "worker").get("dependsOn").is_none());
    assert_eq!(job["spec"]["dependsOn"], yaml("[db]"));
    let written: Vec<&str> = translation
        .written
        .iter()
        .map(|finding| finding.message.as_str())
        .collect();
    assert!(
        written.contains(&"translated to jobs/migrate.yaml, a job that runs before web, worker")
    );
    let manifests = engine::load(&translation.sources()).unwrap();
    assert_eq!(manifests.jobs["migrate"].spec.before.len(), 2);
}

#[test]
fn healthchecks_become_readiness_exec_probes() {
    let translation = Import::new().ok(
        "services:\n  db:\n    image: postgres\n    healthcheck:\n      test: [\"CMD-SHELL\", \"pg_isready -U $$POSTGRES_USER\"]\n      interval: 10s\n      timeout: 5s\n      retries: 5\n      start_period: 30s\n  cache:\n    image: redis\n    healthcheck:\n      test: [\"CMD\", \"redis-cli\", \"ping\"]\n      interval: 1s\n      timeout: 1s\n  web:\n    image: nginx\n    healthcheck:\n      test: curl -f http://localhost/ || exit 1\n      interval: 1m30s\n  off:\n    image: nginx\n    healthcheck:\n      test: [\"NONE\"]\n",
    );
    assert_eq!(
        spec(&translation, "db")["health"],
        yaml("readiness: {exec: [/bin/sh, -c, pg_isready -U $POSTGRES_USER], interval: 10s, timeout: 5s, deadline: 1m45s}\n")
    );
    assert_eq!(
        spec(&translation, "cache")["health"],
        yaml("readiness: {exec: [redis-cli, ping], interval: 1s, timeout: 1s, deadline: 1m}\n")
    );
    assert_eq!(
        spec(&translation, "web")["health"],
        yaml("readiness: {exec: [/bin/sh, -c, 'curl -f http://localhost/ || exit 1'], interval: 1m30s, timeout: 30s, deadline: 6m}\n")
    );
    assert_eq!(spec(&translation, "off").get("health"), None);
    assert_eq!(paths(&translation.notes), ["services.off.healthcheck.test"]);
}

#[test]
fn container_settings() {
    let translation = Import::new().ok(
        "services:\n  web:\n    image: nginx\n    user: \"1000:1000\"\n    working_dir: /srv\n    hostname: web\n    extra_hosts:\n      - \"db.local:10.0.0.2\"\n      - \"gateway=10.0.0.1\"\n    cap_add: [NET_ADMIN]\n    cap_drop: [ALL]\n    labels:\n      - com.example.team=shop\n    stop_signal: SIGQUIT\n    stop_grace_period: 1m30s\n    sysctls:\n      net.core.somaxconn: 1024\n    init: true\n    shm_size: 256m\n    logging:\n      driver: json-file\n      options:\n        max-size: 20m\n        max-file: \"5\"\n    mem_limit: 512m\n    cpus: 0.5\n    pids_limit: 100\n  worker:\n    image: worker\n    extra_hosts:\n      cache.local: 10.0.0.3\n    labels:\n      team: shop\n    deploy:\n      replicas: 3\n      resources:\n        limits:\n          memory: 1G\n          cpus: \"1.5\"\n          pids: 50\n        reservations:\n          memory: 256M\n",
    );
    assert_eq!(
        spec(&translation, "web"),
        yaml("image: nginx\nworkingDir: /srv\nuser: '1000:1000'\nhostname: web\nextraHosts: ['db.local:10.0.0.2', 'gateway:10.0.0.1']\ncapAdd: [NET_ADMIN]\ncapDrop: [ALL]\ninit: true\nstopSignal: SIGQUIT\nstopTimeout: 1m30s\nlabels: {com.example.team: shop}\nsysctls: {net.core.somaxconn: '1024'}\nshmSize: 256Mi\nlogging: {maxSize: 20m, maxFiles: 5}\nresources: {memory: 512Mi, cpus: '0.5', pids: 100}\n")
    );
    assert_eq!(
        spec(&translation, "worker"),
        yaml("image: worker\nextraHosts: ['cache.local:10.0.0.3']\nlabels: {team: shop}\nresources: {memory: 1Gi, cpus: '1.5', pids: 50}\nmemoryReservation: 256Mi\nreplicas: 3\n")
    );
    assert!(translation.notes.is_empty(), "{:?}", translation.notes);
}

#[test]
fn namespace_and_kernel_settings() {
    let translation = Import::new().ok("services:
  agent:
    image: agent
    privileged: true
    pid: host
    ipc: shareable
    userns_mode: host
    dns: 1.1.1.1
    dns_search: [corp.example.com]
    dns_opt: [ndots:2, use-vc]
    domainname: example.com
    device_cgroup_rules: ['c 189:* rmw']
    mem_limit: 1g
    mem_reservation: 512m
    memswap_limit: 1g
    cpu_shares: 512
    cpuset: 0-1
    cpu_quota: 150000
    oom_score_adj: -500
    oom_kill_disable: true
    storage_opt: {size: 20G}
    links: [db]
  db:
    image: postgres
");
    assert_eq!(
        spec(&translation, "agent"),
        yaml("image: agent\nresources: {memory: 1Gi, cpus: '1.5'}\nprivileged: true\npid: host\nipc: shareable\nusernsMode: host\ndns: [1.1.1.1]\ndnsSearch: [corp.example.com]\ndnsOptions: ['ndots:2', use-vc]\ndomainname: example.com\ndeviceCgroupRules: ['c 189:* rmw']\nmemoryReservation: 512Mi\ncpuShares: 512\ncpuset: 0-1\noomScoreAdj: -500\noomKillDisable: true\nstorageOpt: {size: 20G}\n")
    );
    assert_eq!(
        paths(&translation.notes),
        [
            "services.agent.links",
            "services.agent.cpu_quota",
            "services.agent.memswap_limit"
        ]
    );
}

#[test]
fn settings_of_other_containers_are_untranslatable() {
    let translation = Import::new()
        .run(
            "services:
  app:
    image: app
    pid: service:db
    network_mode: container:db
    volumes_from: [db]
    links: ['db:database']
    mac_address: 02:42:ac:11:00:02
    memswap_limit: 2g
  db:
    image: postgres
",
        )
        .unwrap();
    assert_eq!(
        paths(&translation.untranslatable),
        [
            "services.app.pid",
            "services.app.network_mode",
            "services.app.volumes_from",
            "services.app.links[0]",
            "services.app.mac_address",
            "services.app.memswap_limit"
        ]
    );
}

#[test]
fn extends_merges_a_base_service() {
    let translation = Import::new().ok("x-base: &base
  image: app
services:
  base:
    <<: *base
    environment: [TZ=UTC, PORT=80]
    ports: ['8080:80']
  app:
    extends: base
    environment: {PORT: 8081}
    ports: ['8081:81']
");
    assert_eq!(
        spec(&translation, "app"),
        yaml("image: app\nports: [{containerPort: 80, port: 8080}, {containerPort: 81, port: 8081}]\nenv: {PORT: '8081', TZ: UTC}\n")
    );
}

#[test]
fn wider_grammars_and_host_access_settings() {
    let translation = Import::new().ok("services:
  mail:
    image: exim
    user: Debian-exim
    hostname: mail.example.com
    stop_signal: RTMIN+3
    stdin_open: true
    tty: true
    extra_hosts:
      - host.docker.internal:host-gateway
      - myhost:::1
      - relay=[2001:db8::5]
    ulimits:
      nproc: 65535
      nofile:
        soft: 20000
        hard: 40000
      memlock: '-1'
    security_opt:
      - label:disable
      - no-new-privileges:true
    devices:
      - /dev/dri:/dev/dri
      - /dev/snd
    group_add: [video, 109]
    profiles: [mail, debug]
    volumes:
      - ./media:/media:ro,z,rslave
      - type: bind
        source: /srv/spool
        target: /spool
        bind:
          propagation: rshared
          selinux: Z
      - type: tmpfs
        target: /cache
        tmpfs:
          size: 64m
          mode: 1777
    tmpfs:
      - /run:rw,noexec,nosuid,size=16m,mode=755
  ml:
    image: ml
    extra_hosts:
      both: [10.0.0.1, '::2']
    deploy:
      resources:
        reservations:
          devices:
            - driver: nvidia
              count: 1
              capabilities: [gpu]
  all:
    image: all
    gpus: all
    stop_signal: \"15\"
");
    assert_eq!(paths(&translation.untranslatable), Vec::<String>::new());
    assert_eq!(
        spec(&translation, "mail"),
        yaml("image: exim
volumes:
- {hostPath: /srv/app/media, containerPath: /media, readOnly: true, selinux: shared, propagation: rslave}
- {hostPath: /srv/spool, containerPath: /spool, selinux: private, propagation: rshared}
user: Debian-exim
hostname: mail.example.com
extraHosts: ['host.docker.internal:host-gateway', 'myhost:::1', 'relay:2001:db8::5']
stopSignal: SIGRTMIN+3
tmpfs:
- {path: /cache, size: 64Mi, mode: '1777'}
- {path: /run, size: 16Mi, mode: '755'}
interactive: true
tty: true
ulimits: {memlock: -1, nofile: {soft: 20000, hard: 40000}, nproc: 65535}
securityOpt: [label=disable, no-new-privileges=true]
devices: [/dev/dri:/dev/dri, /dev/snd]
groupAdd: [video, '109']
")
    );
    assert_eq!(
        spec(&translation, "ml"),
        yaml("image: ml\nextraHosts: ['both:10.0.0.1', 'both:::2']\ngpus: 1\n")
    );
    assert_eq!(
        spec(&translation, "all"),
        yaml("image: all\nstopSignal: '15'\ngpus: all\n")
    );
    assert_eq!(
        translation.notes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "services.mail.profiles: dropped, mail is written and runs like every service, though compose starts it only with mail, debug; delete the deployment if it should not run",
            "services.ml.deploy.resources.reservations.devices[0].driver: dropped, Docker picks the driver that offers the gpu capability (nvidia)",
        ]
    );
    engine::load(&translation.sources()).unwrap();
}

#[test]
fn host_access_values_without_an_equivalent_are_untranslatable() {
    let translation = Import::new().ok("services:
  web:
    image: nginx
    ulimits:
      nofiles: 10
      nproc: 100
    security_opt: ['seccomp:/etc/profile.json']
    devices: ['nvidia.com/gpu=all', '/dev/sda:/dev/xvda:rwx']
    volumes:
      - data:/data:rshared
    tmpfs: ['/run:uid=1000']
    deploy:
      resources:
        reservations:
          devices:
            - capabilities: [gpu]
              device_ids: ['0']
            - capabilities: [tpu]
");
    assert_eq!(
        paths(&translation.untranslatable),
        [
            "services.web.ulimits.nofiles",
            "services.web.security_opt[0]",
            "services.web.devices[0]",
            "services.web.devices[1]",
            "services.web.volumes[0]",
            "services.web.tmpfs[0]",
            "services.web.deploy.resources.reservations.devices[0].device_ids",
            "services.web.deploy.resources.reservations.devices[1]",
        ]
    );
    assert_eq!(
        spec(&translation, "web"),
        yaml("image: nginx\nvolumes: [{name: data, containerPath: /data}]\ntmpfs: [/run]\nulimits: {nproc: 100}\ngpus: all\n")
    );
}

#[test]
fn replicas_and_scale_unless_they_would_share_a_host_port() {
    let translation = Import::new().ok(
        "services:\n  api:\n    image: api\n    scale: 2\n    expose: [\"8000\"]\n  web:\n    image: nginx\n    ports: [\"8080:80\"]\n    deploy:\n      replicas: 3\n  big:\n    image: big\n    deploy:\n      replicas: 500\n",
    );
    assert_eq!(
        spec(&translation, "api"),
        yaml("image: api\nports: [{containerPort: 8000}]\nreplicas: 2\n")
    );
    assert_eq!(
        paths(&translation.untranslatable),
        [
            "services.web.deploy.replicas",
            "services.big.deploy.replicas"
        ]
    );
}

#[test]
fn values_the_schema_refuses_are_untranslatable_and_the_rest_loads() {
    let translation = Import::new().ok(
        "services:\n  web:\n    image: nginx\n    environment:\n      - \"BAD NAME=1\"\n      - GOOD=1\n    user: \"www data\"\n    hostname: web_1\n    extra_hosts:\n      - \"bad host:10.0.0.2\"\n    cap_add: [NET_ADMIN, MAKE_COFFEE]\n    labels:\n      run.orcra.dev/deployment: other\n      team: shop\n    stop_signal: SIGNOPE\n    mem_limit: 1k\n    cpus: 2048\n",
    );
    assert_eq!(
        paths(&translation.untranslatable),
        [
            "services.web.user",
            "services.web.hostname",
            "services.web.extra_hosts[0]",
            "services.web.cap_add[1]",
            "services.web.labels.run.orcra.dev/deployment",
            "services.web.stop_signal",
            "services.web.mem_limit",
            "services.web.cpus",
            "services.web.environment.BAD NAME",
        ]
    );
    assert_eq!(
        spec(&translation, "web"),
        yaml("image: nginx\nenv: {GOOD: '1'}\ncapAdd: [NET_ADMIN]\nlabels: {team: shop}\n")
    );
    engine::load(&translation.sources()).unwrap();
}

#[test]
fn paths_addresses_and_images_the_schema_refuses_are_untranslatable_too() {
    let translation = Import::new().ok(
        "services:\n  web:\n    image: nginx\n    working_dir: app\n    tmpfs: [run]\n    volumes:\n      - data:cache\n    ports:\n      - localhost:8080:80\n      - \"81\"\n    stop_grace_period: 48h\n  api:\n    image: Api\n",
    );
    assert_eq!(
        paths(&translation.untranslatable),
        [
            "services.web.working_dir",
            "services.web.tmpfs[0]",
            "services.web.volumes[0]",
            "services.web.ports[0]",
            "services.web.stop_grace_period",
            "services.api.image",
        ]
    );
    assert_eq!(
        translation.untranslatable[3].to_string(),
        "services.web.ports[0]: invalid hostIP \"localhost\": expected an IP address"
    );
    assert_eq!(
        spec(&translation, "web"),
        yaml("image: nginx\nports: [{containerPort: 81}]\n")
    );
    assert!(!translation.files.contains_key("deployments/api.yaml"));
    engine::load(&translation.sources()).unwrap();
}

#[test]
fn settings_written_at_their_default_stay_written() {
    let translation = Import::new().ok(
        "services:\n  web:\n    image: nginx\n    stop_grace_period: 10s\n    logging:\n      options:\n        max-file: \"3\"\n    ports:\n      - 0.0.0.0:8080:80\n      - \"[0:0:0:0:0:0:0:1]:8081:81\"\n",
    );
    assert_eq!(
        translation.files["deployments/web.yaml"],
        "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  image: nginx\n  ports:\n  - containerPort: 80\n    port: 8080\n    hostIP: 0.0.0.0\n  - containerPort: 81\n    port: 8081\n    hostIP: 0:0:0:0:0:0:0:1\n  stopTimeout: 10s\n  logging:\n    maxFiles: 3\n"
    );
}

#[test]
fn environment_values_keep_their_text_as_written() {
    let translation = Import::new().ok(
        "services:\n  web:\n    image: nginx\n    environment:\n      VERSION: 1.10\n      MASK: 0x1F\n      COUNT: 1e3\n      ENABLED: yes\n      LIMIT: .inf\n      DEBUG: true\n      PORT: 8080\n    labels:\n      version: 1.10\n    build:\n      context: .\n      args:\n        RELEASE: 2.50\n",
    );
    let text = &translation.files["deployments/web.yaml"];
    for written in [
        "VERSION: '1.10'",
        "MASK: '0x1F'",
        "COUNT: '1e3'",
        "ENABLED: yes",
        "LIMIT: '.inf'",
        "DEBUG: 'true'",
        "PORT: '8080'",
        "version: '1.10'",
        "RELEASE: '2.50'",
    ] {
        assert!(text.contains(written), "{written} in:\n{text}");
    }
    let spec = spec(&translation, "web");
    assert_eq!(spec["env"]["VERSION"], yaml("'1.10'"));
    assert_eq!(spec["env"]["ENABLED"], yaml("'yes'"));
    engine::load(&translation.sources()).unwrap();
}

#[test]
fn dropped_settings_leave_notes() {
    let translation = Import::new().ok(
        "version: \"3.8\"\nname: shop\nservices:\n  web:\n    image: nginx\n    restart: unless-stopped\n    container_name: shop-web\n    networks: [front]\n  api:\n    image: api\n    networks:\n      - front\nnetworks:\n  front: {}\n",
    );
    let notes: Vec<String> = translation.notes.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        [
            "version: dropped, orun needs no file format version",
            "name: dropped, orun names containers after the deployment and the environment",
            "services.web.networks: dropped, the environment network replaces front",
            "services.api.networks: dropped, the environment network replaces front",
            "services.web.restart: dropped, orun supervises containers",
            "services.web.container_name: dropped, orun names the container after the deployment (web)",
        ]
    );
}

#[test]
fn anything_else_is_untranslatable_with_its_path() {
    let translation = Import::new()
        .run("services:\n  web:\n    image: nginx\n    runtime: nvidia\n    platform: linux/arm64\n    secrets: [token]\n    networks: [front, back]\n  proxy:\n    image: caddy\n    network_mode: service:web\n  db:\n    image: postgres\n    networks: [back]\nsecrets:\n  token:\n    environment: TOKEN\n    labels: {a: b}\n")
        .unwrap();
    assert_eq!(
        paths(&translation.untranslatable),
        [
            "services.web.runtime",
            "services.web.platform",
            "services.proxy.network_mode",
        ]
    );
    assert!(translation.lines().contains(
        &"services.web.runtime: cannot be translated: orun has no equivalent".to_string()
    ));
    assert_eq!(translation.files.len(), 3);
}

#[test]
fn host_network_mode_and_service_names() {
    let translation = Import::new().ok(
        "services:\n  Node_Exporter:\n    image: prom/node-exporter\n    network_mode: host\n    ports: [\"9100:9100\"]\n",
    );
    assert_eq!(
        spec(&translation, "node-exporter"),
        yaml("image: prom/node-exporter\nnetwork: host\n")
    );
    assert_eq!(
        paths(&translation.notes),
        ["services.Node_Exporter", "services.Node_Exporter.ports"]
    );
}

#[test]
fn node_file_only_with_a_node_host() {
    let compose = "services:\n  web:\n    image: nginx\n";
    assert_eq!(
        Import::new().ok(compose).files.keys().collect::<Vec<_>>(),
        ["deployments/web.yaml"]
    );
    let mut import = Import::new();
    import.node_host = Some("web-01.example.com".to_string());
    let translation = import.ok(compose);
    assert_eq!(
        translation.files["nodes/web-01-example-com.yaml"],
        "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: web-01-example-com\nspec:\n  host: web-01.example.com\n  gitRepo: /srv/app\n"
    );
}

#[test]
fn unreadable_files_are_errors() {
    assert_eq!(
        Import::new()
            .run("services: [")
            .unwrap_err()
            .to_string()
            .split(':')
            .next(),
        Some("invalid YAML")
    );
    assert_eq!(
        Import::new().run("image: nginx\n").unwrap_err(),
        ComposeError::NotCompose
    );
}

#[test]
fn a_compose_file_over_the_input_limits_is_refused_before_parsing() {
    let started = std::time::Instant::now();
    let deep = format!(
        "services:\n  web:\n    image: nginx\n    labels: {}{}\n",
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    assert_eq!(
        Import::new().run(&deep).unwrap_err().to_string(),
        "line 4 column 74: nested more than 64 levels deep"
    );
    let mut laughs = String::from("x-a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let items = vec![format!("*a{}", level - 1); 10].join(", ");
        laughs.push_str(&format!("x-a{level}: &a{level} [{items}]\n"));
    }
    laughs.push_str("services:\n  web:\n    image: nginx\n");
    assert!(matches!(
        Import::new().run(&laughs),
        Err(ComposeError::Limit(LimitError::TooManyNodes { .. }))
    ));
    let huge = format!("services: {{}}\n{}", "#".repeat(MAX_FILE_BYTES));
    assert!(matches!(
        Import::new().run(&huge),
        Err(ComposeError::Limit(LimitError::TooLarge { .. }))
    ));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn an_env_file_the_reader_refuses_is_untranslatable_even_when_optional() {
    let read = |name: &str| {
        Err(format!(
            "{name}: outside the compose file's folder: refusing to read it"
        ))
    };
    let environment = BTreeMap::new();
    let translation = translate(&ComposeInput {
        text: "services:\n  web:\n    image: nginx\n    env_file:\n      - path: ../x\n        required: false\n",
        environment: &environment,
        dotenv: None,
        read_env_file: &read,
        compose_dir: "/srv/app",
        compose_dir_from_out: Some(""),
        node_host: None,
        git_repo: "/srv/app",
    })
    .unwrap();
    assert!(translation
        .notes
        .iter()
        .all(|note| !note.message.contains("../x")));
    assert_eq!(
        translation.untranslatable[0].to_string(),
        "services.web.env_file: cannot read ../x: ../x: outside the compose file's folder: refusing to read it"
    );
}

#[test]
fn file_secrets_become_secret_files_with_a_note_on_adding_each_value() {
    let translation = Import::new().ok(
        "services:\n  db:\n    image: postgres\n    secrets:\n      - db-password\n      - source: tls\n        target: server.key\n        uid: '70'\n        mode: 0400\n  api:\n    image: api\n    secrets: [db-password, missing]\nsecrets:\n  db-password:\n    file: ./db/password.txt\n  tls:\n    external: true\n",
    );
    assert_eq!(
        spec(&translation, "db")["secretFiles"],
        yaml("- key: db-password\n  mode: '0444'\n- key: tls\n  target: /run/secrets/server.key\n  uid: 70\n")
    );
    let notes: Vec<String> = translation.notes.iter().map(ToString::to_string).collect();
    assert!(notes.contains(&"secrets.db-password: containers read it from secrets.yaml: add the content of ./db/password.txt there as key db-password (sops secrets.yaml; orun secret encrypt makes inline env values only)".to_string()), "{notes:#?}");
    assert!(
        notes.iter().any(|note| note
            .starts_with("secrets.tls: containers read it from secrets.yaml: add its value")),
        "{notes:#?}"
    );
    assert_eq!(
        paths(&translation.untranslatable),
        ["services.api.secrets[1]"]
    );
    engine::load(&translation.sources()).unwrap();
}

#[test]
fn file_and_inline_configs_become_repository_files_copied_under_configs() {
    let translation = Import::new().ok(
        "services:\n  proxy:\n    image: nginx\n    configs:\n      - source: nginx\n        target: /etc/nginx/nginx.conf\n        uid: '101'\n      - motd\n      - source: env\nconfigs:\n  nginx:\n    file: ./proxy/nginx.conf\n  motd:\n    content: hello\n  env:\n    environment: MOTD\n",
    );
    assert_eq!(
        spec(&translation, "proxy")["files"],
        yaml("- source: configs/nginx/nginx.conf\n  target: /etc/nginx/nginx.conf\n- source: configs/motd/motd\n  target: /motd\n")
    );
    assert_eq!(
        translation.copies,
        BTreeMap::from([(
            "configs/nginx/nginx.conf".to_string(),
            "./proxy/nginx.conf".to_string()
        )])
    );
    assert_eq!(translation.files["configs/motd/motd"], "hello");
    assert_eq!(paths(&translation.untranslatable), ["configs.env"]);
    assert!(paths(&translation.notes).contains(&"services.proxy.configs[0].uid".to_string()));
}

#[test]
fn several_networks_with_different_members_become_networks_with_aliases() {
    let translation = Import::new().ok(
        "services:\n  proxy:\n    image: caddy\n    networks: [front]\n  app:\n    image: app\n    networks:\n      front:\n      back:\n        aliases: [api]\n  db:\n    image: postgres\n    networks:\n      back:\n        aliases: [postgres, db.internal]\n        ipv4_address: 10.0.0.5\n  cron:\n    image: busybox\nnetworks:\n  front:\n    external: true\n  back: {}\n",
    );
    assert_eq!(spec(&translation, "proxy")["networks"], yaml("[front]"));
    assert_eq!(
        spec(&translation, "app")["networks"],
        yaml("[{name: back, aliases: [api]}, front]")
    );
    assert_eq!(
        spec(&translation, "db")["networks"],
        yaml("[{name: back, aliases: [postgres, db.internal]}]")
    );
    assert_eq!(spec(&translation, "cron").get("networks"), None);
    assert_eq!(
        paths(&translation.untranslatable),
        ["services.db.networks.back.ipv4_address"]
    );
    assert!(paths(&translation.notes).contains(&"networks.front.external".to_string()));
    engine::load(&translation.sources()).unwrap();
}

#[test]
fn one_shared_network_writes_no_networks_unless_it_gives_aliases() {
    let translation = Import::new().ok(
        "services:\n  web:\n    image: nginx\n    networks: [front]\n  api:\n    image: api\n    networks:\n      front:\n        aliases: [backend]\n",
    );
    assert_eq!(spec(&translation, "web").get("networks"), None);
    assert_eq!(
        spec(&translation, "api")["networks"],
        yaml("[{name: default, aliases: [backend]}]")
    );
}
