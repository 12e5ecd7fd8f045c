# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_orun_global_optspecs
    string join \n h/help V/version
end

function __fish_orun_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_orun_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_orun_using_subcommand
    set -l cmd (__fish_orun_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c orun -n "__fish_orun_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c orun -n "__fish_orun_needs_command" -s V -l version -d 'Print version'
complete -c orun -n "__fish_orun_needs_command" -f -a "validate" -d 'Check every manifest of a repository and report all problems at once'
complete -c orun -n "__fish_orun_needs_command" -f -a "plan" -d 'Show what would change on this node, with reasons and field diffs'
complete -c orun -n "__fish_orun_needs_command" -f -a "apply" -d 'Converge this node once: plan against Docker, then pull, build, remove, recreate, create, start'
complete -c orun -n "__fish_orun_needs_command" -f -a "start" -d 'Run the node agent: follow the Git branch, converge, repair drift, serve the status API'
complete -c orun -n "__fish_orun_needs_command" -f -a "bootstrap" -d 'Provision a node over SSH: binary, node.yaml, deploy key, systemd unit'
complete -c orun -n "__fish_orun_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c orun -n "__fish_orun_needs_command" -f -a "manpage" -d 'Print the man page (roff)'
complete -c orun -n "__fish_orun_needs_command" -f -a "secret" -d 'Work with SOPS secrets: encrypt a value for a deployment\'s spec.env'
complete -c orun -n "__fish_orun_needs_command" -f -a "status" -d 'Show a running node\'s status (its status API) as tables'
complete -c orun -n "__fish_orun_needs_command" -f -a "history" -d 'Show a running node\'s newest applies (its status API\'s /history), newest first'
complete -c orun -n "__fish_orun_needs_command" -f -a "suspend" -d 'Stop the running node from acting (it still fetches and plans) until `orun resume`'
complete -c orun -n "__fish_orun_needs_command" -f -a "resume" -d 'Let a suspended node act again: it converges at once'
complete -c orun -n "__fish_orun_needs_command" -f -a "pin" -d 'Make the running node apply COMMIT and stay there while its branch moves on'
complete -c orun -n "__fish_orun_needs_command" -f -a "unpin" -d 'Let a pinned node follow its branch again: it applies the newest commit'
complete -c orun -n "__fish_orun_needs_command" -f -a "import" -d 'Turn another tool\'s configuration into a manifest repository'
complete -c orun -n "__fish_orun_needs_command" -f -a "fleet" -d 'Look at every node of the repository at once'
complete -c orun -n "__fish_orun_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orun -n "__fish_orun_using_subcommand validate" -l repo -d 'Manifest repository root' -r -F
complete -c orun -n "__fish_orun_using_subcommand validate" -l environment -d 'Validate for this environment only (default: production and every node\'s environment)' -r
complete -c orun -n "__fish_orun_using_subcommand validate" -l age-key-path -d 'The age identity that decrypts secrets.yaml (default: $SOPS_AGE_KEY_FILE, then /opt/orun/keys/age.key)' -r -F
complete -c orun -n "__fish_orun_using_subcommand validate" -l policy -d 'Check every deployment against the operator policy of this Node file, such as a node\'s --config /opt/orun/node.yaml (its policy, and the secrets.yaml keys it reads, are used)' -r -F
complete -c orun -n "__fish_orun_using_subcommand validate" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand plan" -l repo -d 'Manifest repository root' -r -F
complete -c orun -n "__fish_orun_using_subcommand plan" -l node -d 'Plan for the node with this metadata.name (its environment and codeDir)' -r
complete -c orun -n "__fish_orun_using_subcommand plan" -l environment -d 'Plan for this environment (default: production)' -r
complete -c orun -n "__fish_orun_using_subcommand plan" -l age-key-path -d 'The age identity that decrypts secrets.yaml (default: $SOPS_AGE_KEY_FILE, then keys/age.key under the --node\'s dataDir or /opt/orun/)' -r -F
complete -c orun -n "__fish_orun_using_subcommand plan" -l policy -d 'Refuse deployments that break the operator policy of this Node file, such as the node\'s --config /opt/orun/node.yaml (its policy, and the secrets.yaml keys it reads, are used)' -r -F
complete -c orun -n "__fish_orun_using_subcommand plan" -l observed -d 'Plan against this observed snapshot instead of the local Docker engine: a JSON file (docs/plans.md), or a node\'s http(s)://HOST:PORT/observed' -r -F
complete -c orun -n "__fish_orun_using_subcommand plan" -l save-observed -d 'Also write the observed snapshot that was planned against to FILE' -r -F
complete -c orun -n "__fish_orun_using_subcommand plan" -l out -d 'Save the plan with fingerprints of its inputs, for `orun apply --plan FILE`' -r -F
complete -c orun -n "__fish_orun_using_subcommand plan" -l output -d 'Output format' -r -f -a "human\t''
json\t''"
complete -c orun -n "__fish_orun_using_subcommand plan" -l detailed-exitcode -d 'Exit 2 when changes are pending (0 when converged, 1 on error)'
complete -c orun -n "__fish_orun_using_subcommand plan" -l allow-empty -d 'Allow a plan that removes every managed container when nothing is desired'
complete -c orun -n "__fish_orun_using_subcommand plan" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand apply" -l repo -d 'Manifest repository root' -r -F
complete -c orun -n "__fish_orun_using_subcommand apply" -l node -d 'Plan for the node with this metadata.name (its environment and codeDir)' -r
complete -c orun -n "__fish_orun_using_subcommand apply" -l environment -d 'Plan for this environment (default: production)' -r
complete -c orun -n "__fish_orun_using_subcommand apply" -l age-key-path -d 'The age identity that decrypts secrets.yaml (default: $SOPS_AGE_KEY_FILE, then keys/age.key under the --node\'s dataDir or /opt/orun/)' -r -F
complete -c orun -n "__fish_orun_using_subcommand apply" -l policy -d 'Refuse deployments that break the operator policy of this Node file, such as the node\'s --config /opt/orun/node.yaml (its policy, and the secrets.yaml keys it reads, are used)' -r -F
complete -c orun -n "__fish_orun_using_subcommand apply" -l plan -d 'Apply exactly this saved plan (`orun plan --out`); refused if the manifests or Docker moved since' -r -F
complete -c orun -n "__fish_orun_using_subcommand apply" -l data-dir -d 'Where copies of the repository files containers mount go, under files/ (default: the node\'s dataDir, else /opt/orun)' -r -F
complete -c orun -n "__fish_orun_using_subcommand apply" -l secret-files-dir -d 'Folder on a tmpfs for the secret files containers mount, refused when not a tmpfs; overrides secretFilesDir (default /run/orun)' -r -F
complete -c orun -n "__fish_orun_using_subcommand apply" -l once -d 'Converge once and exit (the long-running node agent is `orun start`)'
complete -c orun -n "__fish_orun_using_subcommand apply" -l allow-empty -d 'Allow removing every managed container when nothing is desired'
complete -c orun -n "__fish_orun_using_subcommand apply" -l no-wait -d 'Do not wait to see started containers keep running'
complete -c orun -n "__fish_orun_using_subcommand apply" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand start" -l config -d 'Node settings: a Node manifest, as `orun bootstrap` writes to <dataDir>/node.yaml' -r -F
complete -c orun -n "__fish_orun_using_subcommand start" -l repo -d 'Manifest repository URL (ssh, https, git, file or local path); overrides gitRepo' -r
complete -c orun -n "__fish_orun_using_subcommand start" -l branch -d 'Branch to track; overrides gitBranch' -r
complete -c orun -n "__fish_orun_using_subcommand start" -l data-dir -d 'Local state (clone, keys); overrides dataDir' -r -F
complete -c orun -n "__fish_orun_using_subcommand start" -l node -d 'This node\'s metadata.name, whose manifest is re-read from each revision' -r
complete -c orun -n "__fish_orun_using_subcommand start" -l poll-interval -d 'Git poll interval such as 5s or 1m30s; overrides pollInterval, also from later revisions' -r
complete -c orun -n "__fish_orun_using_subcommand start" -l status-port -d 'Status API port' -r
complete -c orun -n "__fish_orun_using_subcommand start" -l status-addr -d 'Status API address (an IP, or IP:port)' -r
complete -c orun -n "__fish_orun_using_subcommand start" -l age-key-path -d 'The age identity that decrypts secrets.yaml (default: $SOPS_AGE_KEY_FILE, then <dataDir>/keys/age.key)' -r -F
complete -c orun -n "__fish_orun_using_subcommand start" -l log-format -d 'Log format (default: json when stdout is not a terminal, text on a terminal)' -r -f -a "json\t''
text\t''"
complete -c orun -n "__fish_orun_using_subcommand start" -l caddy-bin -d 'Caddy binary for the ingress (started only when the revision has Services)' -r -F
complete -c orun -n "__fish_orun_using_subcommand start" -l ingress-http-port -d 'Port Caddy serves plain HTTP on' -r
complete -c orun -n "__fish_orun_using_subcommand start" -l ingress-https-port -d 'Port Caddy serves HTTPS on (services with ssl: true)' -r
complete -c orun -n "__fish_orun_using_subcommand start" -l caddy-admin -d 'Unix socket of Caddy\'s admin API, open to orun\'s user alone (default: <dataDir>/caddy/admin.sock)' -r -F
complete -c orun -n "__fish_orun_using_subcommand start" -l webhook-secret-file -d 'File holding the secret that proves POST /hooks/git; overrides webhookSecretFile' -r -F
complete -c orun -n "__fish_orun_using_subcommand start" -l secret-files-dir -d 'Folder on a tmpfs for the secret files containers mount, refused when not a tmpfs; overrides secretFilesDir (default /run/orun)' -r -F
complete -c orun -n "__fish_orun_using_subcommand start" -l allow-insecure-transport -d 'Accept a git:// or plain http:// manifest repository, which anyone on the network path can change; like allowInsecureTransport: true'
complete -c orun -n "__fish_orun_using_subcommand start" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand bootstrap" -l ssh-option -d 'Extra ssh option, as for ssh -o (repeatable), e.g. UserKnownHostsFile=/tmp/known_hosts' -r
complete -c orun -n "__fish_orun_using_subcommand bootstrap" -l dry-run -d 'Print every remote command without running anything'
complete -c orun -n "__fish_orun_using_subcommand bootstrap" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand completions" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand manpage" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand secret; and not __fish_seen_subcommand_from encrypt help" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand secret; and not __fish_seen_subcommand_from encrypt help" -f -a "encrypt" -d 'Encrypt a value read on standard input for spec.env.NAME, with the data key of secrets.yaml'
complete -c orun -n "__fish_orun_using_subcommand secret; and not __fish_seen_subcommand_from encrypt help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orun -n "__fish_orun_using_subcommand secret; and __fish_seen_subcommand_from encrypt" -l repo -d 'Manifest repository root, holding secrets.yaml' -r -F
complete -c orun -n "__fish_orun_using_subcommand secret; and __fish_seen_subcommand_from encrypt" -l age-key-path -d 'The age identity that decrypts secrets.yaml (default: $SOPS_AGE_KEY_FILE, then /opt/orun/keys/age.key)' -r -F
complete -c orun -n "__fish_orun_using_subcommand secret; and __fish_seen_subcommand_from encrypt" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand secret; and __fish_seen_subcommand_from help" -f -a "encrypt" -d 'Encrypt a value read on standard input for spec.env.NAME, with the data key of secrets.yaml'
complete -c orun -n "__fish_orun_using_subcommand secret; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orun -n "__fish_orun_using_subcommand status" -l addr -d 'Status API address of the node' -r
complete -c orun -n "__fish_orun_using_subcommand status" -l output -d 'Output format' -r -f -a "human\t''
json\t''"
complete -c orun -n "__fish_orun_using_subcommand status" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand history" -l addr -d 'Status API address of the node' -r
complete -c orun -n "__fish_orun_using_subcommand history" -l limit -d 'How many applies to show, from 1 to 200 (default: the node\'s, 20)' -r
complete -c orun -n "__fish_orun_using_subcommand history" -l output -d 'Output format' -r -f -a "human\t''
json\t''"
complete -c orun -n "__fish_orun_using_subcommand history" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand suspend" -l data-dir -d 'The running node\'s dataDir, which holds its control socket control.sock (default: /opt/orun/)' -r -F
complete -c orun -n "__fish_orun_using_subcommand suspend" -l reason -d 'Why, shown in /status and the notification' -r
complete -c orun -n "__fish_orun_using_subcommand suspend" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand resume" -l data-dir -d 'The running node\'s dataDir, which holds its control socket control.sock (default: /opt/orun/)' -r -F
complete -c orun -n "__fish_orun_using_subcommand resume" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand pin" -l data-dir -d 'The running node\'s dataDir, which holds its control socket control.sock (default: /opt/orun/)' -r -F
complete -c orun -n "__fish_orun_using_subcommand pin" -l reason -d 'Why, shown in /status and the notification' -r
complete -c orun -n "__fish_orun_using_subcommand pin" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand unpin" -l data-dir -d 'The running node\'s dataDir, which holds its control socket control.sock (default: /opt/orun/)' -r -F
complete -c orun -n "__fish_orun_using_subcommand unpin" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand import; and not __fish_seen_subcommand_from compose help" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand import; and not __fish_seen_subcommand_from compose help" -f -a "compose" -d 'Write deployments/, jobs/ (and nodes/) equivalent to a docker compose file'
complete -c orun -n "__fish_orun_using_subcommand import; and not __fish_seen_subcommand_from compose help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orun -n "__fish_orun_using_subcommand import; and __fish_seen_subcommand_from compose" -l out -d 'Root of the manifest repository to write (default: the compose file\'s folder, so build contexts stay where they are)' -r -F
complete -c orun -n "__fish_orun_using_subcommand import; and __fish_seen_subcommand_from compose" -l node-host -d 'Also write nodes/<name>.yaml for this host' -r
complete -c orun -n "__fish_orun_using_subcommand import; and __fish_seen_subcommand_from compose" -l force -d 'Write what can be translated even when some settings cannot be'
complete -c orun -n "__fish_orun_using_subcommand import; and __fish_seen_subcommand_from compose" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "compose" -d 'Write deployments/, jobs/ (and nodes/) equivalent to a docker compose file'
complete -c orun -n "__fish_orun_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orun -n "__fish_orun_using_subcommand fleet; and not __fish_seen_subcommand_from status plan dashboard help" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand fleet; and not __fish_seen_subcommand_from status plan dashboard help" -f -a "status" -d 'Ask every node in nodes/ for its status: sync state, HEAD vs applied commit, health, ready deployments; exits 1 when a node is unreachable, unhealthy or behind'
complete -c orun -n "__fish_orun_using_subcommand fleet; and not __fish_seen_subcommand_from status plan dashboard help" -f -a "plan" -d 'Plan every node in nodes/ against what its Docker runs now (its status API\'s /observed): what the working tree would change on each node'
complete -c orun -n "__fish_orun_using_subcommand fleet; and not __fish_seen_subcommand_from status plan dashboard help" -f -a "dashboard" -d 'Serve a web page of every node in nodes/, refreshed every few seconds, each row linking to the node\'s own dashboard; /fleet.json is `orun fleet status --output json`'
complete -c orun -n "__fish_orun_using_subcommand fleet; and not __fish_seen_subcommand_from status plan dashboard help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orun -n "__fish_orun_using_subcommand fleet; and __fish_seen_subcommand_from status" -l repo -d 'Manifest repository root, whose nodes/ lists the fleet' -r -F
complete -c orun -n "__fish_orun_using_subcommand fleet; and __fish_seen_subcommand_from status" -l output -d 'Output format' -r -f -a "human\t''
json\t''"
complete -c orun -n "__fish_orun_using_subcommand fleet; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand fleet; and __fish_seen_subcommand_from plan" -l repo -d 'Manifest repository root, whose nodes/ lists the fleet and whose files are planned' -r -F
complete -c orun -n "__fish_orun_using_subcommand fleet; and __fish_seen_subcommand_from plan" -l age-key-path -d 'The age identity that decrypts secrets.yaml (default: $SOPS_AGE_KEY_FILE, then keys/age.key under each node\'s dataDir or /opt/orun/)' -r -F
complete -c orun -n "__fish_orun_using_subcommand fleet; and __fish_seen_subcommand_from plan" -l output -d 'Output format' -r -f -a "human\t''
json\t''"
complete -c orun -n "__fish_orun_using_subcommand fleet; and __fish_seen_subcommand_from plan" -l detailed-exitcode -d 'Exit 2 when any node has changes pending (0 when all are converged, 1 on error)'
complete -c orun -n "__fish_orun_using_subcommand fleet; and __fish_seen_subcommand_from plan" -l allow-empty -d 'Allow plans that remove every managed container of a node whose share is empty'
complete -c orun -n "__fish_orun_using_subcommand fleet; and __fish_seen_subcommand_from plan" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand fleet; and __fish_seen_subcommand_from dashboard" -l repo -d 'Manifest repository root, whose nodes/ lists the fleet (read again on each page load)' -r -F
complete -c orun -n "__fish_orun_using_subcommand fleet; and __fish_seen_subcommand_from dashboard" -l listen -d 'Address the page is served on' -r
complete -c orun -n "__fish_orun_using_subcommand fleet; and __fish_seen_subcommand_from dashboard" -s h -l help -d 'Print help'
complete -c orun -n "__fish_orun_using_subcommand fleet; and __fish_seen_subcommand_from help" -f -a "status" -d 'Ask every node in nodes/ for its status: sync state, HEAD vs applied commit, health, ready deployments; exits 1 when a node is unreachable, unhealthy or behind'
complete -c orun -n "__fish_orun_using_subcommand fleet; and __fish_seen_subcommand_from help" -f -a "plan" -d 'Plan every node in nodes/ against what its Docker runs now (its status API\'s /observed): what the working tree would change on each node'
complete -c orun -n "__fish_orun_using_subcommand fleet; and __fish_seen_subcommand_from help" -f -a "dashboard" -d 'Serve a web page of every node in nodes/, refreshed every few seconds, each row linking to the node\'s own dashboard; /fleet.json is `orun fleet status --output json`'
complete -c orun -n "__fish_orun_using_subcommand fleet; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "validate" -d 'Check every manifest of a repository and report all problems at once'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "plan" -d 'Show what would change on this node, with reasons and field diffs'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "apply" -d 'Converge this node once: plan against Docker, then pull, build, remove, recreate, create, start'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "start" -d 'Run the node agent: follow the Git branch, converge, repair drift, serve the status API'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "bootstrap" -d 'Provision a node over SSH: binary, node.yaml, deploy key, systemd unit'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "completions" -d 'Print a shell completion script'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "manpage" -d 'Print the man page (roff)'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "secret" -d 'Work with SOPS secrets: encrypt a value for a deployment\'s spec.env'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "status" -d 'Show a running node\'s status (its status API) as tables'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "history" -d 'Show a running node\'s newest applies (its status API\'s /history), newest first'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "suspend" -d 'Stop the running node from acting (it still fetches and plans) until `orun resume`'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "resume" -d 'Let a suspended node act again: it converges at once'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "pin" -d 'Make the running node apply COMMIT and stay there while its branch moves on'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "unpin" -d 'Let a pinned node follow its branch again: it applies the newest commit'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "import" -d 'Turn another tool\'s configuration into a manifest repository'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "fleet" -d 'Look at every node of the repository at once'
complete -c orun -n "__fish_orun_using_subcommand help; and not __fish_seen_subcommand_from validate plan apply start bootstrap completions manpage secret status history suspend resume pin unpin import fleet help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c orun -n "__fish_orun_using_subcommand help; and __fish_seen_subcommand_from secret" -f -a "encrypt" -d 'Encrypt a value read on standard input for spec.env.NAME, with the data key of secrets.yaml'
complete -c orun -n "__fish_orun_using_subcommand help; and __fish_seen_subcommand_from import" -f -a "compose" -d 'Write deployments/, jobs/ (and nodes/) equivalent to a docker compose file'
complete -c orun -n "__fish_orun_using_subcommand help; and __fish_seen_subcommand_from fleet" -f -a "status" -d 'Ask every node in nodes/ for its status: sync state, HEAD vs applied commit, health, ready deployments; exits 1 when a node is unreachable, unhealthy or behind'
complete -c orun -n "__fish_orun_using_subcommand help; and __fish_seen_subcommand_from fleet" -f -a "plan" -d 'Plan every node in nodes/ against what its Docker runs now (its status API\'s /observed): what the working tree would change on each node'
complete -c orun -n "__fish_orun_using_subcommand help; and __fish_seen_subcommand_from fleet" -f -a "dashboard" -d 'Serve a web page of every node in nodes/, refreshed every few seconds, each row linking to the node\'s own dashboard; /fleet.json is `orun fleet status --output json`'
