//! Container settings against the real engine: every setting (the namespace and kernel settings
//! too) reaches `docker inspect`, a
//! resource change is applied in place (same container, not restarted) and converges, a port
//! without a host port is not bound on the host, and a GPU request reaches Docker's create call.

use std::fs;

use serde_json::{json, Value};

use crate::support::{docker, free_port, inspect, scratch_dir, test_image, Scenario};

#[test]
fn settings_reach_the_container() {
    let scenario = Scenario::new("settings");
    scenario.deployment(
        "web",
        &format!(
            "  image: {}
  entrypoint: [/bin/busybox, httpd]
  command: [-f, -p, \"8080\", -h, /www]
  workingDir: /www
  user: \"1000:1000\"
  hostname: web-1
  extraHosts:
    - db.internal:10.1.2.3
  capAdd: [NET_ADMIN]
  capDrop: [MKNOD]
  readOnlyRootFilesystem: true
  init: true
  stopSignal: SIGQUIT
  labels:
    team: web
  sysctls:
    net.ipv4.ip_unprivileged_port_start: 0
  shmSize: 32Mi
  logging:
    maxSize: 1m
    maxFiles: 2
  resources:
    memory: 64Mi
    cpus: \"0.5\"
    pids: 50
  stopTimeout: 2s
",
            test_image()
        ),
    );
    scenario.apply();

    let web = inspect(&scenario.container("web")).expect("web exists");
    assert_eq!(web["State"]["Running"], true, "{:#}", web["State"]);
    let config = &web["Config"];
    assert_eq!(config["Entrypoint"], json!(["/bin/busybox", "httpd"]));
    assert_eq!(config["Cmd"], json!(["-f", "-p", "8080", "-h", "/www"]));
    assert_eq!(config["WorkingDir"], "/www");
    assert_eq!(config["User"], "1000:1000");
    assert_eq!(config["Hostname"], "web-1");
    assert_eq!(config["StopSignal"], "SIGQUIT");
    assert_eq!(config["Labels"]["team"], "web");
    assert_eq!(config["Labels"]["run.orcra.dev/managed-by"], "orun");
    let host = &web["HostConfig"];
    assert_eq!(host["ExtraHosts"], json!(["db.internal:10.1.2.3"]));
    assert_eq!(host["CapAdd"], json!(["NET_ADMIN"]));
    assert_eq!(host["CapDrop"], json!(["MKNOD"]));
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(host["Init"], true);
    assert_eq!(
        host["Sysctls"],
        json!({"net.ipv4.ip_unprivileged_port_start": "0"})
    );
    assert_eq!(host["ShmSize"], 32 << 20);
    assert_eq!(
        host["LogConfig"],
        json!({"Type": "json-file", "Config": {"max-size": "1000000", "max-file": "2"}})
    );
    assert_eq!(host["Memory"], 64 << 20);
    assert_eq!(host["MemorySwap"], 64 << 20, "no swap on top of memory");
    assert_eq!(host["NanoCpus"], 500_000_000);
    assert_eq!(host["PidsLimit"], 50);
    let hosts = docker(&[
        "exec",
        &scenario.container("web"),
        "/bin/busybox",
        "cat",
        "/etc/hosts",
    ]);
    assert!(hosts.contains("10.1.2.3\tdb.internal"), "{hosts}");

    let plan = scenario.plan();
    assert_eq!(plan["actions"], json!([]), "{plan:#}");
}

#[test]
fn host_access_settings_reach_the_container() {
    let scenario = Scenario::new("hostaccess");
    let shared = scratch_dir(&scenario, "shared");
    fs::create_dir_all(&shared).unwrap();
    scenario.deployment(
        "mail",
        &format!(
            "  image: {}
  entrypoint: [/bin/busybox, sleep, \"3600\"]
  hostname: mail.example.com
  extraHosts:
    - host.docker.internal:host-gateway
    - myhost:::1
    - relay=192.0.2.10
  stopSignal: SIGRTMIN+3
  interactive: true
  tty: true
  ulimits:
    nofile:
      soft: 1024
      hard: 2048
    nproc: 512
  securityOpt: [no-new-privileges=true]
  devices: [/dev/null:/dev/orun-null:rw]
  groupAdd: [\"1234\"]
  volumes:
    - hostPath: {}
      containerPath: /shared
      readOnly: true
      selinux: shared
      propagation: rprivate
  tmpfs:
    - /scratch
    - path: /cache
      size: 8Mi
      mode: \"1770\"
  stopTimeout: 1s
",
            test_image(),
            shared.display()
        ),
    );
    scenario.apply();

    let name = scenario.container("mail");
    let mail = inspect(&name).expect("mail exists");
    assert_eq!(mail["State"]["Running"], true, "{:#}", mail["State"]);
    let config = &mail["Config"];
    assert_eq!(config["Hostname"], "mail.example.com");
    assert_eq!(config["StopSignal"], "SIGRTMIN+3");
    assert_eq!(config["OpenStdin"], true);
    assert_eq!(config["Tty"], true);
    let host = &mail["HostConfig"];
    assert_eq!(
        host["ExtraHosts"],
        json!([
            "host.docker.internal:host-gateway",
            "myhost:::1",
            "relay:192.0.2.10"
        ])
    );
    assert_eq!(
        host["Ulimits"],
        json!([
            {"Name": "nofile", "Soft": 1024, "Hard": 2048},
            {"Name": "nproc", "Soft": 512, "Hard": 512},
        ])
    );
    assert_eq!(host["SecurityOpt"], json!(["no-new-privileges=true"]));
    assert_eq!(
        host["Devices"],
        json!([{"PathOnHost": "/dev/null", "PathInContainer": "/dev/orun-null", "CgroupPermissions": "rw"}])
    );
    assert_eq!(host["GroupAdd"], json!(["1234"]));
    assert_eq!(
        host["Binds"],
        json!([format!("{}:/shared:ro,z,rprivate", shared.display())])
    );
    assert_eq!(
        host["Tmpfs"],
        json!({"/scratch": "", "/cache": "size=8388608,mode=1770"})
    );
    let exec = |args: &[&str]| {
        let mut command = vec!["exec", name.as_str(), "/bin/busybox"];
        command.extend_from_slice(args);
        docker(&command)
    };
    assert_eq!(exec(&["hostname"]).trim(), "mail.example.com");
    let hosts = exec(&["cat", "/etc/hosts"]);
    assert!(hosts.contains("::1\tmyhost"), "{hosts}");
    assert!(hosts.contains("192.0.2.10\trelay"), "{hosts}");
    assert!(!hosts.contains("host-gateway"), "{hosts}");
    let limits = exec(&["sh", "-c", "ulimit -n; ulimit -Hn"]);
    assert_eq!(
        limits.split_whitespace().collect::<Vec<_>>(),
        ["1024", "2048"]
    );
    assert!(exec(&["id", "-G"])
        .split_whitespace()
        .any(|gid| gid == "1234"));
    assert!(exec(&["ls", "-l", "/dev/orun-null"]).starts_with('c'));
    let cache = exec(&["stat", "-c", "%a", "/cache"]);
    assert_eq!(cache.trim(), "1770");

    assert_eq!(scenario.plan()["actions"], json!([]));
}

#[test]
fn namespace_and_kernel_settings_reach_the_container() {
    let scenario = Scenario::new("kernel");
    scenario.deployment(
        "agent",
        &format!(
            "  image: {}
  entrypoint: [/bin/busybox, sleep, \"3600\"]
  pid: host
  ipc: shareable
  dns: [192.0.2.53]
  dnsSearch: [corp.example.com]
  dnsOptions: [\"ndots:2\"]
  domainname: example.com
  deviceCgroupRules: [\"c 189:* rmw\"]
  resources:
    memory: 64Mi
  memoryReservation: 32Mi
  cpuShares: 512
  cpuset: \"0\"
  oomScoreAdj: 500
  stopTimeout: 1s
",
            test_image()
        ),
    );
    scenario.apply();

    let name = scenario.container("agent");
    let agent = inspect(&name).expect("agent exists");
    assert_eq!(agent["State"]["Running"], true, "{:#}", agent["State"]);
    assert_eq!(agent["Config"]["Domainname"], "example.com");
    let host = &agent["HostConfig"];
    assert_eq!(host["PidMode"], "host");
    assert_eq!(host["IpcMode"], "shareable");
    assert_eq!(host["Dns"], json!(["192.0.2.53"]));
    assert_eq!(host["DnsSearch"], json!(["corp.example.com"]));
    assert_eq!(host["DnsOptions"], json!(["ndots:2"]));
    assert_eq!(host["DeviceCgroupRules"], json!(["c 189:* rmw"]));
    assert_eq!(host["MemoryReservation"], 32 << 20);
    assert_eq!(host["CpuShares"], 512);
    assert_eq!(host["CpusetCpus"], "0");
    assert_eq!(host["OomScoreAdj"], 500);
    let exec = |args: &[&str]| {
        let mut command = vec!["exec", name.as_str(), "/bin/busybox"];
        command.extend_from_slice(args);
        docker(&command)
    };
    let resolv = exec(&["cat", "/etc/resolv.conf"]);
    // On the environment network Docker's own resolver answers and forwards to `dns`.
    assert!(resolv.contains("nameserver 127.0.0.11"), "{resolv}");
    assert!(resolv.contains("search corp.example.com"), "{resolv}");
    assert!(resolv.contains("options ndots:2"), "{resolv}");
    // In the host's process namespace, process 1 is the host's init, not the container's sleep.
    assert_ne!(exec(&["cat", "/proc/1/comm"]).trim(), "sleep");
    assert_eq!(exec(&["cat", "/proc/self/oom_score_adj"]).trim(), "500");

    assert_eq!(scenario.plan()["actions"], json!([]));
}

/// `privileged` and a negative `oomScoreAdj` reach Docker's create call. Starting such a
/// container needs capabilities that Docker itself may lack (an engine in an unprivileged
/// container cannot grant every capability nor lower an OOM score), so only the create call's
/// host config is checked.
#[test]
fn privileged_and_a_lowered_oom_score_reach_the_create_call() {
    let scenario = Scenario::new("privileged");
    scenario.deployment(
        "agent",
        &format!(
            "  image: {}\n  entrypoint: [/bin/busybox, sleep, \"3600\"]\n  privileged: true\n  oomScoreAdj: -500\n  oomKillDisable: true\n  stopTimeout: 1s\n",
            test_image()
        ),
    );
    scenario.orun(&["apply", "--once"]);
    let agent = inspect(&scenario.container("agent")).expect("agent was created");
    let host = &agent["HostConfig"];
    assert_eq!(host["Privileged"], true);
    assert_eq!(host["OomScoreAdj"], -500);
    assert_eq!(host["OomKillDisable"], true);
}

/// `gpus` reaches Docker's create call as a device request. Docker checks that a driver serves it
/// only when the container starts, so on a host without a GPU runtime the container is created
/// and its start fails; either way the request is in its host config.
#[test]
fn gpu_request_reaches_the_create_call() {
    let scenario = Scenario::new("gpus");
    scenario.deployment(
        "ml",
        &format!("  image: {}\n  gpus: 2\n  stopTimeout: 1s\n", test_image()),
    );
    scenario.orun(&["apply", "--once"]);
    let ml = inspect(&scenario.container("ml")).expect("ml was created");
    assert_eq!(
        ml["HostConfig"]["DeviceRequests"],
        json!([{"Driver": "", "Count": 2, "DeviceIDs": null, "Capabilities": [["gpu"]], "Options": null}])
    );
}

#[test]
fn default_logging_rotates_json_file() {
    let scenario = Scenario::new("logdefault");
    scenario.deployment(
        "web",
        &format!("  image: {}\n  stopTimeout: 1s\n", test_image()),
    );
    scenario.apply();
    let web = inspect(&scenario.container("web")).expect("web exists");
    assert_eq!(
        web["HostConfig"]["LogConfig"],
        json!({"Type": "json-file", "Config": {"max-size": "10000000", "max-file": "3"}})
    );
}

fn limited(memory: &str, cpus: &str, pids: u32) -> String {
    format!(
        "  image: {}\n  stopTimeout: 1s\n  resources:\n    memory: {memory}\n    cpus: \"{cpus}\"\n    pids: {pids}\n",
        test_image()
    )
}

fn started_at(container: &Value) -> Value {
    container["State"]["StartedAt"].clone()
}

#[test]
fn resource_change_updates_in_place_without_restart() {
    let scenario = Scenario::new("resources");
    let name = scenario.container("web");
    scenario.deployment("web", &limited("64Mi", "0.5", 50));
    scenario.apply();
    let before = inspect(&name).expect("web exists");

    scenario.deployment("web", &limited("128Mi", "1.5", 80));
    let plan = scenario.plan();
    assert_eq!(plan["summary"]["update"], 1, "{plan:#}");
    assert_eq!(plan["summary"]["recreate"], 0, "{plan:#}");
    let update = &plan["actions"][0];
    assert_eq!(update["kind"], "update");
    assert_eq!(update["reason"], "resources_changed");
    assert_eq!(
        update["changes"],
        json!([
            {"field": "resources.cpus", "old": "0.5", "new": "1.5"},
            {"field": "resources.memory", "old": 64 << 20, "new": 128 << 20},
            {"field": "resources.pids", "old": 50, "new": 80},
        ])
    );
    scenario.apply();

    let after = inspect(&name).expect("web still exists");
    assert_eq!(after["Id"], before["Id"], "the container was replaced");
    assert_eq!(
        started_at(&after),
        started_at(&before),
        "the container restarted"
    );
    assert_eq!(after["State"]["Running"], true);
    assert_eq!(after["HostConfig"]["Memory"], 128 << 20);
    assert_eq!(after["HostConfig"]["MemorySwap"], 128 << 20);
    assert_eq!(after["HostConfig"]["NanoCpus"], 1_500_000_000);
    assert_eq!(after["HostConfig"]["PidsLimit"], 80);
    let again = scenario.plan();
    assert_eq!(again["actions"], json!([]), "{again:#}");
}

#[test]
fn limits_set_on_an_unlimited_container_are_applied_in_place() {
    let scenario = Scenario::new("limitsadded");
    let name = scenario.container("web");
    scenario.deployment(
        "web",
        &format!("  image: {}\n  stopTimeout: 1s\n", test_image()),
    );
    scenario.apply();
    let before = inspect(&name).expect("web exists");

    scenario.deployment("web", &limited("96Mi", "0.25", 40));
    scenario.apply();
    let after = inspect(&name).expect("web still exists");
    assert_eq!(after["Id"], before["Id"]);
    assert_eq!(started_at(&after), started_at(&before));
    assert_eq!(after["HostConfig"]["Memory"], 96 << 20);
    assert_eq!(scenario.plan()["actions"], json!([]));
}

#[test]
fn unpublished_port_is_not_bound_on_the_host() {
    let scenario = Scenario::new("unpublished");
    let published = free_port();
    scenario.deployment(
        "web",
        &format!(
            "  image: {}\n  stopTimeout: 1s\n  ports:\n    - containerPort: 80\n    - containerPort: 80\n      protocol: udp\n      port: {published}\n      hostIP: 127.0.0.1\n",
            test_image()
        ),
    );
    scenario.apply();
    let web = inspect(&scenario.container("web")).expect("web exists");
    let bindings = &web["HostConfig"]["PortBindings"];
    assert!(bindings.get("80/tcp").is_none(), "{bindings:#}");
    assert_eq!(
        bindings["80/udp"],
        json!([{ "HostIp": "127.0.0.1", "HostPort": published.to_string() }])
    );
    assert!(web["Config"]["ExposedPorts"].get("80/tcp").is_some());
    assert!(
        web["NetworkSettings"]["Ports"]["80/tcp"].is_null(),
        "{:#}",
        web["NetworkSettings"]["Ports"]
    );
    let port = docker(&["port", &scenario.container("web")]);
    assert!(!port.contains("80/tcp"), "{port}");
    assert_eq!(scenario.plan()["actions"], json!([]));
}
