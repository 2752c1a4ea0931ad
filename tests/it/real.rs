//! Real programs from Debian 12 packages (not built by us), proven in the image runbase
//! recommends: each program is inspected inside the `programs-amd64` build root
//! (tests/roots/build.sh), recommended under every policy, and run chrooted in a stand-in
//! of the chosen image plus the recommended files, doing its real job against a server
//! started on loopback (TLS with a CA the build root trusts, PostgreSQL, sshd, an rsync
//! daemon, LDAP over TLS, syslog over TCP). Each added file is then removed in turn to
//! see whether the job needs it.
//!
//! The test prints a table (program x policy: image, files added, result) and fails at the
//! end listing every failing case. Run just it with
//! `cargo test --release --all-features --test it real:: -- --nocapture`.
//!
//! Faithful stand-ins: `support::stand_in` builds the image from the catalog's facts; the
//! facts that decide these cases and that the catalog does not hold are added here, each
//! with its source (see [`image_facts`]).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use runbase::bases::{BaseImage, Policy, RecommendOptions, recommend};
use runbase::report::Recommendation;

use crate::support::{
    Overlay, ProcMount, copy, drain, image, report_in, require_root, roots, stand_in, write,
};

/// The name the test's /etc/hosts gives 127.0.0.1; the test CA's server certificate is
/// for it (and for 127.0.0.1).
const NAME: &str = "tls.runbase.test";

/// How long one run of a program may take before it is killed and counted as failed.
const RUN_SECONDS: u64 = 20;

// ---------------------------------------------------------------------------------------
// Running, chrooted, with stdin, a deadline and the environment a container gets.

/// Runs `program` chrooted in `root`. `stdin` is written to the program; with `hold` the
/// pipe stays open until the program ends (clients that would otherwise hang up before the
/// server answered). Killed after [`RUN_SECONDS`].
fn run_job(
    root: &Path,
    program: &str,
    args: &[String],
    env: &[(String, String)],
    stdin: Option<&[u8]>,
    hold: bool,
) -> Result<Output, String> {
    let spawn = || {
        let dir = root.to_path_buf();
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: only chroot(2) and chdir(2), async-signal-safe, run between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                std::os::unix::fs::chroot(&dir)?;
                std::env::set_current_dir("/")
            });
        }
        cmd.spawn()
    };
    let mut tries = 0;
    let mut child = loop {
        match spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 50 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("exec {program}: {e}")),
            Ok(c) => break c,
        }
    };
    let mut input = child.stdin.take();
    if let (Some(pipe), Some(bytes)) = (input.as_mut(), stdin) {
        let _ = pipe.write_all(bytes);
    }
    if !hold {
        drop(input.take());
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = Instant::now() + Duration::from_secs(RUN_SECONDS);
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            timed_out = true;
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    drop(input);
    let mut stderr = err.join().expect("stderr");
    if timed_out {
        stderr.extend_from_slice(format!("\n[killed after {RUN_SECONDS} s]").as_bytes());
    }
    Ok(Output {
        status,
        stdout: out.join().expect("stdout"),
        stderr,
    })
}

/// A free loopback port (bound and released; the server binds it right after).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what} did not listen on 127.0.0.1:{port}: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A command run chrooted in `root` (servers run from an overlay of the build root).
fn chrooted(root: &Path, program: &str, cwd: &str) -> Command {
    let dir = root.to_path_buf();
    let cwd = cwd.to_string();
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/root")
        .stdin(Stdio::null());
    // SAFETY: only chroot(2) and chdir(2) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            std::os::unix::fs::chroot(&dir)?;
            std::env::set_current_dir(&cwd)
        });
    }
    cmd
}

fn sh_in(root: &Path, script: &str) -> String {
    let out = chrooted(root, "/bin/sh", "/")
        .args(["-ec", script])
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

// ---------------------------------------------------------------------------------------
// The servers, all on 127.0.0.1, for as long as the test runs.

struct Servers {
    children: Vec<Child>,
    https: u16,
    postgres: u16,
    ssh: u16,
    rsync: u16,
    ldaps: u16,
    syslog: u16,
    marker: String,
    git_head: String,
    /// What the syslog receiver got since it was last cleared.
    syslog_seen: Arc<Mutex<Vec<u8>>>,
    /// The client key sshd accepts (put in the stand-in as the user's own file).
    ssh_client_key: Vec<u8>,
    _logs: tempfile::TempDir,
    _pgdata: tempfile::TempDir,
    overlay: Overlay,
}

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = &self.overlay;
    }
}

/// The host's PostgreSQL server programs (scripts/test-all installs postgresql).
fn postgres_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("/usr/lib/postgresql: install postgresql (scripts/test-all does)")
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|b| b.join("postgres").exists() && b.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("no /usr/lib/postgresql/*/bin/postgres: install postgresql")
}

fn start_servers(build: &Path, ca: &Path) -> Servers {
    let overlay = Overlay::new(build);
    let o = overlay.path().to_path_buf();
    let logs = tempfile::tempdir().unwrap();
    let log = |name: &str| -> (Stdio, Stdio, PathBuf) {
        let path = logs.path().join(name);
        let f = std::fs::File::create(&path).unwrap();
        (f.try_clone().unwrap().into(), f.into(), path)
    };
    let marker = format!("runbase-real-{}", std::process::id());
    let mut children = Vec::new();

    // Files served over TLS, the certificate, a git repository for dumb HTTP.
    write(&o, "/srv/www/hello.txt", &format!("{marker}\n"));
    copy(&ca.join("server.crt"), &o.join("srv/tls/server.crt"));
    copy(&ca.join("server.key"), &o.join("srv/tls/server.key"));
    let git_head = sh_in(
        &o,
        "rm -rf /tmp/w && git init -q -b main /tmp/w && cd /tmp/w \
         && git -c user.email=t@runbase.test -c user.name=t commit -q --allow-empty -m one \
         && git clone -q --bare /tmp/w /srv/www/repo.git && cd /srv/www/repo.git \
         && git update-server-info && cp info/refs 'info/refs?service=git-upload-pack' \
         && git rev-parse HEAD",
    );

    // HTTPS: openssl s_server -WWW serves files below its directory.
    let https = free_port();
    let (out, err, path) = log("https.log");
    children.push(
        chrooted(&o, "/usr/bin/openssl", "/srv/www")
            .args(["s_server", "-quiet", "-WWW", "-accept"])
            .arg(format!("127.0.0.1:{https}"))
            .args([
                "-cert",
                "/srv/tls/server.crt",
                "-key",
                "/srv/tls/server.key",
            ])
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("openssl s_server"),
    );
    wait_for_port(https, "openssl s_server", &path);

    // LDAP over TLS: socat terminates TLS, a small LDAP responder below answers.
    let ldap = TcpListener::bind("127.0.0.1:0").unwrap();
    let ldap_port = ldap.local_addr().unwrap().port();
    std::thread::spawn(move || ldap_responder(ldap));
    let ldaps = free_port();
    let (out, err, path) = log("ldaps.log");
    children.push(
        chrooted(&o, "/usr/bin/socat", "/")
            .arg(format!(
                "OPENSSL-LISTEN:{ldaps},bind=127.0.0.1,reuseaddr,fork,\
                 cert=/srv/tls/server.crt,key=/srv/tls/server.key,verify=0"
            ))
            .arg(format!("TCP:127.0.0.1:{ldap_port}"))
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("socat"),
    );
    wait_for_port(ldaps, "socat (LDAPS)", &path);

    // Syslog over TCP.
    let syslog_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let syslog = syslog_listener.local_addr().unwrap().port();
    let syslog_seen = Arc::new(Mutex::new(Vec::new()));
    let seen = syslog_seen.clone();
    std::thread::spawn(move || {
        for conn in syslog_listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    seen.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
    });

    // sshd, with a client key made here.
    let ssh = free_port();
    sh_in(
        &o,
        "mkdir -p /run/sshd /srv/ssh && rm -f /srv/ssh/client /srv/ssh/client.pub \
         && ssh-keygen -q -t ed25519 -N '' -f /srv/ssh/client \
         && cp /srv/ssh/client.pub /srv/ssh/authorized_keys",
    );
    write(
        &o,
        "/srv/ssh/sshd_config",
        &format!(
            "Port {ssh}\nListenAddress 127.0.0.1\nHostKey /etc/ssh/runbase_host_key\n\
             AuthorizedKeysFile /srv/ssh/authorized_keys\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             StrictModes no\nPidFile none\n"
        ),
    );
    let ssh_client_key = std::fs::read(o.join("srv/ssh/client")).unwrap();
    let (out, err, path) = log("sshd.log");
    children.push(
        chrooted(&o, "/usr/sbin/sshd", "/")
            .args(["-D", "-e", "-f", "/srv/ssh/sshd_config"])
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("sshd"),
    );
    wait_for_port(ssh, "sshd", &path);

    // An rsync daemon serving the same files.
    let rsync = free_port();
    write(
        &o,
        "/srv/rsyncd.conf",
        "pid file =\nuse chroot = no\n[data]\npath = /srv/www\nread only = yes\nuid = root\ngid = root\n",
    );
    let (out, err, path) = log("rsyncd.log");
    children.push(
        chrooted(&o, "/usr/bin/rsync", "/")
            .args(["--daemon", "--no-detach", "--address=127.0.0.1"])
            .arg(format!("--port={rsync}"))
            .arg("--config=/srv/rsyncd.conf")
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("rsync daemon"),
    );
    wait_for_port(rsync, "rsync daemon", &path);

    // PostgreSQL from the host, as its own user, trust authentication on 127.0.0.1.
    let bin = postgres_bin();
    let pgdata = tempfile::tempdir().unwrap();
    let (uid, gid) = user_ids("postgres");
    std::os::unix::fs::chown(pgdata.path(), Some(uid), Some(gid)).unwrap();
    let data = pgdata.path().join("data");
    let out = Command::new(bin.join("initdb"))
        .args(["-A", "trust", "-U", "postgres", "-D"])
        .arg(&data)
        .uid(uid)
        .gid(gid)
        .env("LC_ALL", "C")
        .output()
        .expect("initdb");
    assert!(
        out.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let postgres = free_port();
    let (out, err, path) = log("postgres.log");
    children.push(
        Command::new(bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-h", "127.0.0.1", "-p", &postgres.to_string(), "-k"])
            .arg(pgdata.path())
            .uid(uid)
            .gid(gid)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("postgres"),
    );
    wait_for_port(postgres, "postgres", &path);

    Servers {
        children,
        https,
        postgres,
        ssh,
        rsync,
        ldaps,
        syslog,
        marker,
        git_head,
        syslog_seen,
        ssh_client_key,
        _logs: logs,
        _pgdata: pgdata,
        overlay,
    }
}

fn user_ids(name: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&name)).then(|| (f[2].parse().unwrap(), f[3].parse().unwrap()))
        })
        .unwrap_or_else(|| panic!("no user {name} on this machine (install postgresql)"))
}

/// Answers LDAP bind and extended (whoami) requests with success, one connection at a
/// time; enough for `ldapwhoami -x`.
fn ldap_responder(listener: TcpListener) {
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        std::thread::spawn(move || {
            loop {
                // SEQUENCE { INTEGER id, [APPLICATION n] ... }
                let mut head = [0u8; 2];
                if conn.read_exact(&mut head).is_err() || head[0] != 0x30 {
                    return;
                }
                let len = if head[1] & 0x80 == 0 {
                    usize::from(head[1])
                } else {
                    let n = usize::from(head[1] & 0x7f);
                    let mut b = vec![0u8; n];
                    if conn.read_exact(&mut b).is_err() {
                        return;
                    }
                    b.iter().fold(0usize, |a, x| (a << 8) | usize::from(*x))
                };
                let mut body = vec![0u8; len];
                if conn.read_exact(&mut body).is_err() || body.len() < 3 || body[0] != 0x02 {
                    return;
                }
                let id_len = usize::from(body[1]);
                let id = &body[2..2 + id_len];
                let op = body.get(2 + id_len).copied().unwrap_or(0);
                let reply_op = match op {
                    0x60 => 0x61, // bindRequest -> bindResponse
                    0x77 => 0x78, // extendedRequest -> extendedResponse
                    _ => return,  // unbind or anything else: hang up
                };
                // LDAPResult: resultCode success, matchedDN "", diagnosticMessage ""; the
                // whoami answer carries responseValue [11] "u:runbase".
                let mut result = vec![0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00];
                if reply_op == 0x78 {
                    result.extend_from_slice(&[0x8b, 9]);
                    result.extend_from_slice(b"u:runbase");
                }
                let mut msg = vec![0x02, id_len as u8];
                msg.extend_from_slice(id);
                msg.push(reply_op);
                msg.push(result.len() as u8);
                msg.extend_from_slice(&result);
                let mut out = vec![0x30, msg.len() as u8];
                out.extend_from_slice(&msg);
                if conn.write_all(&out).is_err() {
                    return;
                }
            }
        });
    }
}

// ---------------------------------------------------------------------------------------
// The programs and their jobs.

struct Job {
    /// A short name for the table.
    name: &'static str,
    /// The program's path in the build root (an ELF file).
    file: &'static str,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    hold_stdin: bool,
    /// Files of the user's own the job needs (not the image's, not the plan's): a key.
    user_files: Vec<(&'static str, Vec<u8>, u32)>,
    /// Whether the run did the job.
    check: Box<dyn Fn(&Output) -> bool>,
}

fn jobs(s: &Servers) -> Vec<Job> {
    let stdout_has = |text: String| -> Box<dyn Fn(&Output) -> bool> {
        Box::new(move |o: &Output| String::from_utf8_lossy(&o.stdout).contains(&text))
    };
    let url = |path: &str| format!("https://{NAME}:{}/{path}", s.https);
    let get = b"GET /hello.txt HTTP/1.0\r\n\r\n".to_vec();
    let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let seen = s.syslog_seen.clone();
    let marker = s.marker.clone();
    vec![
        Job {
            name: "curl",
            file: "/usr/bin/curl",
            args: vec!["-sS".into(), "-f".into(), url("hello.txt")],
            stdin: None,
            hold_stdin: false,
            user_files: vec![],
            check: stdout_has(s.marker.clone()),
        },
        Job {
            name: "wget",
            file: "/usr/bin/wget",
            args: vec!["-nv".into(), "-O".into(), "-".into(), url("hello.txt")],
            stdin: None,
            hold_stdin: false,
            user_files: vec![],
            check: stdout_has(s.marker.clone()),
        },
        Job {
            name: "openssl s_client",
            file: "/usr/bin/openssl",
            args: vec![
                "s_client".into(),
                "-quiet".into(),
                "-verify_return_error".into(),
                "-verify_hostname".into(),
                NAME.into(),
                "-connect".into(),
                format!("{NAME}:{}", s.https),
            ],
            stdin: Some(get.clone()),
            hold_stdin: true,
            user_files: vec![],
            check: stdout_has(s.marker.clone()),
        },
        Job {
            name: "gnutls-cli",
            file: "/usr/bin/gnutls-cli",
            args: vec!["--port".into(), s.https.to_string(), NAME.into()],
            stdin: Some(get.clone()),
            hold_stdin: true,
            user_files: vec![],
            check: stdout_has(s.marker.clone()),
        },
        Job {
            name: "socat (OpenSSL)",
            file: "/usr/bin/socat",
            args: vec!["-".into(), format!("OPENSSL:{NAME}:{}", s.https)],
            stdin: Some(get.clone()),
            hold_stdin: true,
            user_files: vec![],
            check: stdout_has(s.marker.clone()),
        },
        Job {
            name: "psql (libpq)",
            file: "/usr/lib/postgresql/15/bin/psql",
            args: vec![
                "-h".into(),
                NAME.into(),
                "-p".into(),
                s.postgres.to_string(),
                "-U".into(),
                "postgres".into(),
                "-d".into(),
                "postgres".into(),
                "-Atc".into(),
                format!("select 'ok-' || '{}'", s.marker),
            ],
            stdin: None,
            hold_stdin: false,
            user_files: vec![],
            check: stdout_has(format!("ok-{}", s.marker)),
        },
        Job {
            name: "ssh",
            file: "/usr/bin/ssh",
            args: vec![
                "-o".into(),
                "BatchMode=yes".into(),
                "-o".into(),
                "StrictHostKeyChecking=no".into(),
                "-o".into(),
                "UserKnownHostsFile=/dev/null".into(),
                "-i".into(),
                "/root/.ssh/id_ed25519".into(),
                "-p".into(),
                s.ssh.to_string(),
                format!("root@{NAME}"),
                format!("echo {}", s.marker),
            ],
            stdin: None,
            hold_stdin: false,
            user_files: vec![("/root/.ssh/id_ed25519", s.ssh_client_key.clone(), 0o600)],
            check: stdout_has(s.marker.clone()),
        },
        Job {
            name: "rsync",
            file: "/usr/bin/rsync",
            args: vec![
                format!("rsync://{NAME}:{}/data/hello.txt", s.rsync),
                "/tmp/".into(),
            ],
            stdin: None,
            hold_stdin: false,
            user_files: vec![],
            // The copy lands in the stand-in; checked by the caller through this marker file.
            check: Box::new(|o: &Output| o.status.success()),
        },
        Job {
            name: "git https helper",
            file: "/usr/lib/git-core/git-remote-https",
            args: vec!["origin".into(), url("repo.git")],
            stdin: Some(b"list\n\n".to_vec()),
            hold_stdin: false,
            user_files: vec![],
            check: stdout_has(s.git_head.clone()),
        },
        Job {
            name: "lftp",
            file: "/usr/bin/lftp",
            args: vec!["-c".into(), format!("cat {}", url("hello.txt"))],
            stdin: None,
            hold_stdin: false,
            user_files: vec![],
            check: stdout_has(s.marker.clone()),
        },
        Job {
            name: "ldapwhoami (libldap)",
            file: "/usr/bin/ldapwhoami",
            args: a(&["-d", "1", "-x", "-H"])
                .into_iter()
                .chain([format!("ldaps://{NAME}:{}", s.ldaps)])
                .collect(),
            stdin: None,
            hold_stdin: false,
            user_files: vec![],
            check: stdout_has("u:runbase".into()),
        },
        Job {
            name: "logger (libsystemd)",
            file: "/usr/bin/logger",
            args: vec![
                "-T".into(),
                "-n".into(),
                NAME.into(),
                "-P".into(),
                s.syslog.to_string(),
                marker.clone(),
            ],
            stdin: None,
            hold_stdin: false,
            user_files: vec![],
            check: Box::new(move |_o: &Output| {
                let deadline = Instant::now() + Duration::from_secs(2);
                loop {
                    if String::from_utf8_lossy(&seen.lock().unwrap()).contains(&marker) {
                        return true;
                    }
                    if Instant::now() > deadline {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }),
        },
    ]
}

// ---------------------------------------------------------------------------------------
// Faithful stand-ins: what the catalog does not hold and these cases depend on.

/// The environment the image's config sets (the catalog's `env`, with its source there:
/// distroless sets `SSL_CERT_FILE`), plus Docker's default PATH and root's HOME.
fn image_env(base: &BaseImage) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "PATH".to_string(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        ),
        ("HOME".to_string(), "/root".to_string()),
    ];
    env.extend(base.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// Adds to `support::stand_in`'s root what the real image holds and decides these cases:
///
/// - CA certificates: an image with a bundle (distroless, alpine) holds the public CAs; the
///   test CA stands for one of them, so the stand-in's bundle is the build root's (which
///   holds the test CA), at the catalog's path only. distroless writes only
///   `/etc/ssl/certs/ca-certificates.crt` and `/usr/share/doc/ca-certificates/copyright`
///   (rules_distroless 0.8.0 distroless/private/cacerts.bzl, the `cacerts` rule distroless
///   uses in common/BUILD.bazel), no hashed `/etc/ssl/certs/*.0` links and no OpenSSL
///   directory: `/usr/lib/ssl` comes with Debian's `openssl` package, which no distroless
///   image installs (base/config.bzl: libc6, libssl3; GoogleContainerTools/distroless
///   issues #155 and #545: `openssl s_client` cannot find the CAs there without
///   SSL_CERT_FILE). busybox:glibc has no /etc/ssl at all (its rootfs listing,
///   /work/shared/research/hidden-deps.md §7).
/// - `/tmp` (1777) and `/root`: distroless common:tmp and common:home (static/static.bzl
///   `tars`), the busybox rootfs and Debian images have both.
/// - the catalog's `files` that `stand_in` does not write (/etc/services, /etc/protocols,
///   /etc/os-release...), from this machine (Debian 12, as the images' own are).
/// - /dev nodes a container engine creates (null, zero, random, urandom, tty, fd links).
fn image_facts(base: &BaseImage, dir: &Path, build: &Path) {
    if let Some(ca) = &base.ca_certificates {
        copy(
            &build.join("etc/ssl/certs/ca-certificates.crt"),
            &dir.join(ca.trim_start_matches('/')),
        );
    }
    if base.name != "scratch" {
        for d in ["tmp", "root"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::set_permissions(
            dir.join("tmp"),
            std::os::unix::fs::PermissionsExt::from_mode(0o1777),
        )
        .unwrap();
    }
    for file in &base.files {
        let to = dir.join(file.trim_start_matches('/'));
        if !to.exists() && Path::new(file).exists() {
            copy(Path::new(file), &to);
        }
    }
}

/// What a container engine gives every container: /dev, /proc (mounted by the caller),
/// /etc/hosts, /etc/resolv.conf and /etc/hostname (bind-mounted over the image's).
fn engine_files(dir: &Path) {
    let dev = dir.join("dev");
    std::fs::create_dir_all(&dev).unwrap();
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let path = dev.join(name);
        if !path.exists() {
            let status = Command::new("mknod")
                .args(["-m", "666"])
                .arg(&path)
                .args(["c", &major.to_string(), &minor.to_string()])
                .status()
                .unwrap();
            assert!(status.success(), "mknod {}", path.display());
        }
    }
    for (name, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let _ = std::os::unix::fs::symlink(to, dev.join(name));
    }
    write(
        dir,
        "/etc/hosts",
        &format!("127.0.0.1 localhost\n::1 localhost\n127.0.0.1 {NAME}\n"),
    );
    // Nothing answers DNS on loopback: a name not in /etc/hosts fails at once.
    write(dir, "/etc/resolv.conf", "nameserver 127.0.0.1\n");
    write(dir, "/etc/hostname", "runbase-real\n");
}

/// Sets of build-root files tried, in order, on a failing case to name what was missing.
const REMEDIES: &[&[&str]] = &[
    &["/etc/ssl/certs/ca-certificates.crt"],
    &["/usr/lib/ssl/cert.pem"],
    &["/usr/lib/ssl/certs"],
    &["/etc/ldap/ldap.conf"],
    &["/etc/ldap/ldap.conf", "/etc/ssl/certs/ca-certificates.crt"],
];

const ENGINE_PATHS: [&str; 3] = ["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"];

/// Copies a build-root path into the stand-in as Docker's `COPY --from=build` does: a
/// file's content with links followed, a directory's tree.
fn copy_from_build(build: &Path, from: &str, to: &Path) -> u64 {
    let src = if Path::new(from).starts_with(build) {
        PathBuf::from(from)
    } else {
        build.join(from.trim_start_matches('/'))
    };
    let src = resolve_in(build, &src);
    if src.is_dir() {
        let mut total = 0;
        for entry in std::fs::read_dir(&src).unwrap() {
            let entry = entry.unwrap();
            let rel = entry.path();
            let rel = rel.strip_prefix(build).unwrap();
            total += copy_from_build(
                build,
                &format!("/{}", rel.display()),
                &to.join(entry.file_name()),
            );
        }
        total
    } else if src.exists() {
        copy(&src, to);
        std::fs::metadata(to).map(|m| m.len()).unwrap_or(0)
    } else {
        0
    }
}

/// Follows symbolic links of `path` (below `root`) inside `root`, as the root's own
/// absolute links mean.
fn resolve_in(root: &Path, path: &Path) -> PathBuf {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut out = root.to_path_buf();
    let mut parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts.reverse();
    let mut hops = 0;
    while let Some(part) = parts.pop() {
        if part == ".." {
            if out != root {
                out.pop();
            }
            continue;
        }
        let next = out.join(&part);
        match std::fs::read_link(&next) {
            Ok(target) if hops < 40 => {
                hops += 1;
                if target.is_absolute() {
                    out = root.to_path_buf();
                }
                let mut t: Vec<String> = target
                    .components()
                    .filter_map(|c| match c {
                        std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                        std::path::Component::ParentDir => Some("..".into()),
                        _ => None,
                    })
                    .collect();
                t.reverse();
                parts.extend(t);
            }
            _ => out = next,
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The proof.

struct Row {
    program: &'static str,
    policy: &'static str,
    image: String,
    added: usize,
    added_bytes: u64,
    result: Result<(), String>,
    /// Added files the job still did without: (path, bytes, why).
    unneeded: Vec<(String, u64, String)>,
    /// The plan's files (image paths).
    plan: Vec<String>,
}

fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}

fn run_case(job: &Job, policy: Policy, build: &Path, servers: &Servers) -> Row {
    let file = build.join(job.file.trim_start_matches('/'));
    let report = report_in(&file, build);
    let mut options = RecommendOptions::default();
    options.policy = policy;
    options.build_root = build;
    options.program_from = Some(job.file);
    let rec: Recommendation = recommend(&report, &options);
    let mut row = Row {
        program: job.name,
        policy: policy.as_str(),
        image: rec.base.clone().unwrap_or_else(|| "-".into()),
        added: rec.add_files.len(),
        added_bytes: 0,
        result: Ok(()),
        unneeded: vec![],
        plan: rec.add_files.iter().map(|a| a.path.clone()).collect(),
    };
    let mut no_image: Option<String> = None;
    let mut add_files = rec.add_files.clone();
    let base_name: String = if let Some(b) = rec.base.as_deref() {
        b.to_string()
    } else {
        let alts: Vec<String> = rec
            .alternatives
            .iter()
            .filter(|a| {
                [
                    "busybox:glibc",
                    "gcr.io/distroless/base-debian12",
                    "debian:bookworm-slim",
                ]
                .contains(&a.base.as_str())
            })
            .map(|a| {
                // The sentences that rule the image out, not the files it would add.
                let fails: Vec<&str> = a
                    .why
                    .iter()
                    .map(String::as_str)
                    .filter(|w| !w.starts_with("add ") && !w.contains(">= the floor"))
                    .collect();
                format!("{}: {}", a.base, fails.join("; "))
            })
            .filter(|t| !t.ends_with(": "))
            .collect();
        no_image = Some(format!(
            "no image: {} [{}]",
            rec.why.join("; "),
            alts.join(" || ")
        ));
        // Would the image the policy would otherwise pick have run it with its own plan?
        // Tried, and said, so that a refusal is known to be right or wrong.
        let fallback = match policy {
            Policy::Distroless => "gcr.io/distroless/base-debian12",
            _ => "busybox:glibc",
        };
        let Some(alt) = rec.alternatives.iter().find(|a| a.base == fallback) else {
            row.result = Err(no_image.unwrap());
            return row;
        };
        add_files = alt.add_files.clone();
        row.added = add_files.len();
        row.plan = add_files.iter().map(|a| a.path.clone()).collect();
        fallback.to_string()
    };
    let base = image(&base_name);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    stand_in(base, &root);
    image_facts(base, &root, build);
    let mut sizes = Vec::new();
    for add in &add_files {
        let bytes = copy_from_build(
            build,
            &add.from,
            &root.join(add.path.trim_start_matches('/')),
        );
        sizes.push(bytes);
        row.added_bytes += bytes;
    }
    let at = rec
        .program_path
        .clone()
        .unwrap_or_else(|| job.file.to_string());
    copy(&file, &root.join(at.trim_start_matches('/')));
    engine_files(&root);
    for (path, bytes, mode) in &job.user_files {
        let to = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(&to, bytes).unwrap();
        std::fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(*mode)).unwrap();
    }
    let env = image_env(base);
    let _proc = ProcMount::new(&root);
    let attempt = |root: &Path| -> Result<(), String> {
        servers.syslog_seen.lock().unwrap().clear();
        let _ = std::fs::remove_file(root.join("tmp/hello.txt"));
        let out = run_job(
            root,
            &at,
            &job.args,
            &env,
            job.stdin.as_deref(),
            job.hold_stdin,
        )?;
        let mut ok = (job.check)(&out);
        if job.name == "rsync" {
            ok = ok
                && std::fs::read_to_string(root.join("tmp/hello.txt"))
                    .is_ok_and(|t| t.contains(&servers.marker));
        }
        if ok {
            Ok(())
        } else {
            Err(format!("{} {}", out.status, tail(&out.stderr, 4)))
        }
    };
    row.result = attempt(&root);
    if let Err(e) = &row.result {
        // Which build-root files, added to the plan, would have made it work: the first
        // set of these that does is named, for the library's developers.
        for set in REMEDIES {
            let added: Vec<PathBuf> = set
                .iter()
                .map(|p| root.join(p.trim_start_matches('/')))
                .filter(|p| std::fs::symlink_metadata(p).is_err())
                .collect();
            if added.is_empty() {
                continue;
            }
            for p in *set {
                copy_from_build(build, p, &root.join(p.trim_start_matches('/')));
            }
            let fixed = attempt(&root).is_ok();
            for p in &added {
                if p.is_dir() {
                    std::fs::remove_dir_all(p).unwrap();
                } else {
                    std::fs::remove_file(p).unwrap();
                }
            }
            if fixed {
                row.result = Err(format!("{e} [works once {} added]", set.join(" + ")));
                break;
            }
        }
    }
    if let Some(msg) = no_image {
        row.result = Err(match &row.result {
            Ok(()) => format!("{msg} [yet {base_name} with its own plan runs it]"),
            Err(e) => format!("{msg} [{base_name} with its own plan fails too: {e}]"),
        });
        row.image = format!("- (tried {base_name})");
        drop(_proc);
        return row;
    }
    if row.result.is_ok() {
        // Each added file removed in turn: does the job still work?
        let aside = dir.path().join("aside");
        for (add, bytes) in add_files.iter().zip(&sizes) {
            if ENGINE_PATHS.contains(&add.path.as_str()) {
                continue;
            }
            let path = root.join(add.path.trim_start_matches('/'));
            if std::fs::symlink_metadata(&path).is_err() {
                continue;
            }
            std::fs::rename(&path, &aside).unwrap();
            let still = attempt(&root).is_ok();
            std::fs::rename(&aside, &path).unwrap();
            if still {
                row.unneeded
                    .push((add.path.clone(), *bytes, add.why.clone()));
            }
        }
    }
    drop(_proc);
    row
}

#[test]
fn real_programs_run_in_the_recommended_image() {
    require_root();
    let build = roots().join("programs-amd64");
    let ca = roots().join("test-ca");
    let servers = start_servers(&build, &ca);
    let jobs = jobs(&servers);
    assert!(jobs.len() >= 12);
    let mut rows = Vec::new();
    for job in &jobs {
        // The job works in the build root itself (an overlay of it): the servers and the
        // job are sound, and a failure below is the image's.
        let overlay = Overlay::new(&build);
        engine_files(overlay.path());
        for (path, bytes, mode) in &job.user_files {
            let to = overlay.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::write(&to, bytes).unwrap();
            std::fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(*mode))
                .unwrap();
        }
        let proc = ProcMount::new(overlay.path());
        servers.syslog_seen.lock().unwrap().clear();
        let env = vec![
            (
                "PATH".to_string(),
                "/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            ),
            ("HOME".to_string(), "/root".to_string()),
        ];
        let out = run_job(
            overlay.path(),
            job.file,
            &job.args,
            &env,
            job.stdin.as_deref(),
            job.hold_stdin,
        )
        .unwrap();
        let mut ok = (job.check)(&out);
        if job.name == "rsync" {
            ok = ok
                && std::fs::read_to_string(overlay.path().join("tmp/hello.txt"))
                    .is_ok_and(|t| t.contains(&servers.marker));
        }
        drop(proc);
        assert!(
            ok,
            "{} does not do its job in the build root itself: {:?}\nstdout: {}\nstderr: {}",
            job.name,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for policy in [Policy::Smallest, Policy::Debuggable, Policy::Distroless] {
            let row = run_case(job, policy, &build, &servers);
            eprintln!(
                "{:22} {:10} {:36} {:3} {:>10} {}",
                row.program,
                row.policy,
                row.image,
                row.added,
                row.added_bytes,
                match &row.result {
                    Ok(()) => "ok".to_string(),
                    Err(e) => format!("FAILS: {e}"),
                }
            );
            rows.push(row);
        }
    }

    let mut table = String::from(
        "program                policy     image                                files      bytes  result\n",
    );
    let (mut unneeded, mut unneeded_bytes) = (0usize, 0u64);
    let mut notes = String::new();
    for r in &rows {
        table.push_str(&format!(
            "{:22} {:10} {:36} {:5} {:>10}  {}\n",
            r.program,
            r.policy,
            r.image,
            r.added,
            r.added_bytes,
            match &r.result {
                Ok(()) => format!("ok ({} not needed)", r.unneeded.len()),
                Err(e) => format!("FAILS: {e}"),
            }
        ));
        for (path, bytes, why) in &r.unneeded {
            unneeded += 1;
            unneeded_bytes += bytes;
            notes.push_str(&format!(
                "  {} / {}: {path} ({bytes} bytes) not needed by the job; plan says: {why}\n",
                r.program, r.policy
            ));
        }
    }
    let mut plans = String::from("the plans (files added):\n");
    for r in &rows {
        plans.push_str(&format!(
            "  {} / {} -> {}: {}\n",
            r.program,
            r.policy,
            r.image,
            r.plan.join(" ")
        ));
    }
    println!("{plans}");
    let failing: Vec<&Row> = rows.iter().filter(|r| r.result.is_err()).collect();
    let summary = format!(
        "{table}\nadded files the job did without: {unneeded} ({unneeded_bytes} bytes)\n{notes}\n\
         {} of {} cases fail",
        failing.len(),
        rows.len()
    );
    println!("{summary}");
    assert!(
        failing.is_empty(),
        "{summary}\nfailing:\n{}",
        failing
            .iter()
            .map(|r| format!(
                "  {} / {} in {}: {}",
                r.program,
                r.policy,
                r.image,
                r.result.as_ref().unwrap_err()
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
