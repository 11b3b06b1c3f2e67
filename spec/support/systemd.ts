// A real systemd for the tests: the installed /lib/systemd/systemd booted as PID 1 of new pid,
// mount, UTS and cgroup namespaces, on a throwaway root, and driven with the real `systemctl`
// (through nsenter). Used by spec/integration/systemd.spec.ts.
//
// The throwaway root matters: a booting systemd runs sysinit.target (systemd-tmpfiles empties
// /tmp, journald writes /var/log/journal, ...). So the root is an overlay of / whose upper layer
// is a tmpfs, with fresh /run, /tmp and /dev (a few device nodes bound in), read-only /sys and
// /proc/sys, a cgroup2 mount of its own cgroup namespace (a child cgroup made for it), and the old
// root unmounted after pivot_root. Only three host directories are bound in: the repository and
// the directory of the node binary under test (process.execPath), both read-only at their own
// paths, and the app directory at /srv/app. The node binary's directory is bound because the
// overlay alone does not show it wherever it is not on the root file system as the namespace sees
// it: under /tmp or /run (fresh tmpfs there), or on another mount (an overlay of / has none of
// /'s submounts); the units would then run another node from PATH, or none. The network is the host's (the
// tests reach the service on 127.0.0.1). setpriv drops a few capabilities from the bounding set
// (modules, clock, network configuration) and ties the namespace to this process: if the test
// process dies, so does the namespace (pdeathsig, unshare --kill-child).
//
// Clean-up is by pid: SIGKILL to every process of its cgroup and to the namespace's PID 1 (the
// kernel then kills whatever is left in the pid namespace); the mounts vanish with the mount
// namespace, and the emptied cgroups and directories are removed.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { waitFor } from './wait';

export const SYSTEMD = '/lib/systemd/systemd';
export const REPO = path.resolve(__dirname, '../..');
/** Where the app directory appears inside the namespace. */
export const APP_IN = '/srv/app';
/** The node binary under test, and its directory (bound into the namespace at its own path). */
export const NODE = fs.realpathSync(process.execPath);
const NODE_DIR = path.dirname(NODE);

// Runs as PID 1 of the new namespaces: builds the root in $1/root, execs systemd.
const BOOT = `#!/bin/sh
set -eu
LAB=$1 APP=$2 REPO=$3 NODE_DIR=$4
R=$LAB/root
mount --make-rprivate /
mount -t tmpfs -o mode=755 baton-lab "$LAB/ovl"
mkdir "$LAB/ovl/upper" "$LAB/ovl/work"
mount -t overlay -o "lowerdir=/,upperdir=$LAB/ovl/upper,workdir=$LAB/ovl/work" baton-lab-root "$R"
mount -t proc proc "$R/proc"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"
mount -t tmpfs -o mode=755,nosuid tmpfs "$R/dev"
for d in null zero full random urandom tty; do touch "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"
touch "$R/dev/console"
mount --bind "$LAB/console.log" "$R/dev/console"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$R/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"
mkdir -p "$R/run/systemd/system" "$R$REPO" "$R$NODE_DIR" "$R${APP_IN}"
mount --bind "$REPO" "$R$REPO"
mount -o remount,bind,ro "$R$REPO"
mount --bind "$NODE_DIR" "$R$NODE_DIR"
mount -o remount,bind,ro "$R$NODE_DIR"
mount --bind "$APP" "$R${APP_IN}"
# the target it boots into; the tests start their units themselves
printf '[Unit]\\nDescription=baton tests\\n' > "$R/run/systemd/system/baton-test.target"
# nothing periodic or network-related in the tests' way
for u in timers.target systemd-networkd.service systemd-networkd.socket systemd-timesyncd.service; do
  ln -s /dev/null "$R/run/systemd/system/$u"
done
cd "$R"
mkdir -p .baton-oldroot
pivot_root . .baton-oldroot
cd /
umount -l /.baton-oldroot
rmdir /.baton-oldroot
# never boot on the real root
[ "$(stat -f -c %T /)" = overlayfs ] || { echo "baton-test: / is not the overlay" >&2; exit 1; }
export container=baton-test
exec ${SYSTEMD} --system --unit=baton-test.target
`;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '' } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function which(cmd: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin']).some((d) => {
    try {
      fs.accessSync(path.join(d, cmd), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The cgroup2 mount point and this process's cgroup in it, if there is one. */
function cgroup2(): { mount: string; own: string } | undefined {
  const line = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => / - cgroup2 /.test(l));
  const own = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
  if (!line || !own) return undefined;
  return { mount: line.split(' ')[4] as string, own: own.slice(3) };
}

/** Why a systemd cannot be booted here (checked before trying), or undefined. */
export function cannotBoot(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'needs root (namespaces, mounts, cgroups)';
  if (!fs.existsSync(SYSTEMD)) return `no ${SYSTEMD}`;
  for (const c of ['unshare', 'nsenter', 'setpriv', 'pivot_root', 'systemctl', 'systemd-notify', 'setsid']) if (!which(c)) return `no ${c} on PATH`;
  if (!fs.readFileSync('/proc/filesystems', 'utf8').includes('overlay')) return 'no overlayfs in this kernel';
  if (!cgroup2()) return 'no cgroup2 hierarchy mounted';
  if (!fs.existsSync('/proc/self/ns/cgroup')) return 'no cgroup namespaces';
  return undefined;
}

let serial = 0;

export class Systemd {
  private constructor(
    private readonly lab: string,
    private readonly cgroup: string,
    private readonly proc: ChildProcess,
    private exited: Promise<void>,
  ) {}

  /** The host pid of the namespace's PID 1 (systemd), once booted. */
  pid = 0;

  /** Boots a systemd with `appDir` at /srv/app; throws, with the reason, if it does not come up. */
  static async boot(appDir: string, timeoutMs = 15_000): Promise<Systemd> {
    const why = cannotBoot();
    if (why) throw new Error(why);
    const cg = cgroup2() as { mount: string; own: string };
    const cgroup = path.join(cg.mount, cg.own, `baton-systemd-${process.pid}-${++serial}`);
    fs.mkdirSync(cgroup);
    let lab: string;
    try {
      lab = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-systemd-'));
      fs.mkdirSync(path.join(lab, 'root'));
      fs.mkdirSync(path.join(lab, 'ovl'));
      fs.writeFileSync(path.join(lab, 'console.log'), '');
      fs.writeFileSync(path.join(lab, 'boot.sh'), BOOT, { mode: 0o755 });
    } catch (err) {
      fs.rmdirSync(cgroup);
      throw err;
    }
    // into its own cgroup first: that becomes the root of its cgroup namespace
    const outer = 'echo $$ > "$1/cgroup.procs" && exec setpriv --pdeathsig KILL --bounding-set -sys_module,-sys_time,-net_admin,-sys_rawio,-syslog -- '
      + 'unshare --pid --fork --kill-child --mount --uts --cgroup --propagation private "$2/boot.sh" "$2" "$3" "$4" "$5"';
    const proc = spawn('sh', ['-c', outer, 'sh', cgroup, lab, appDir, REPO, NODE_DIR], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    let gone = false;
    const exited = new Promise<void>((resolve) => {
      const done = (): void => {
        gone = true;
        resolve();
      };
      proc.on('exit', done);
      proc.on('error', (err) => {
        output += String(err);
        done();
      });
    });
    const sd = new Systemd(lab, cgroup, proc, exited);
    try {
      const unshare = proc.pid as number;
      sd.pid = await waitFor(() => `systemd to start (${output})`, () => {
        if (gone) throw new Error(`the namespace exited before systemd ran: ${output.trim()}`);
        try {
          const child = Number(fs.readFileSync(`/proc/${unshare}/task/${unshare}/children`, 'utf8').trim().split(' ')[0]);
          return child > 0 && fs.readFileSync(`/proc/${child}/comm`, 'utf8').trim() === 'systemd' ? child : undefined;
        } catch {
          return undefined;
        }
      }, timeoutMs, 20);
      let state = '';
      await waitFor(() => `systemd to finish booting (is-system-running: ${state})`, async () => {
        if (gone) throw new Error(`systemd exited: ${output.trim()} ${fs.readFileSync(path.join(lab, 'console.log'), 'utf8').slice(-2000)}`);
        state = (await sd.systemctl('is-system-running')).stdout.trim();
        return state === 'running' || state === 'degraded';
      }, timeoutMs, 50);
      return sd;
    } catch (err) {
      await sd.shutdown();
      throw err;
    }
  }

  /** A command inside the namespaces (systemctl, journalctl, ...). */
  exec(args: string[], timeoutMs = 30_000): Promise<Run> {
    return run('nsenter', ['-t', String(this.pid), '-a', ...args], timeoutMs);
  }

  systemctl(...args: string[]): Promise<Run> {
    return this.exec(['systemctl', '--no-pager', ...args]);
  }

  /** Writes /run/systemd/system/<name> and reloads systemd's configuration. */
  async install(name: string, text: string): Promise<void> {
    fs.writeFileSync(this.path(`/run/systemd/system/${name}`), text);
    const r = await this.systemctl('daemon-reload');
    if (r.code !== 0) throw new Error(`daemon-reload: ${r.stderr}`);
  }

  /** systemctl show -p ... as an object. */
  async show(unit: string, ...props: string[]): Promise<Record<string, string>> {
    const r = await this.systemctl('show', unit, ...props.map((p) => `--property=${p}`));
    const out: Record<string, string> = {};
    for (const line of r.stdout.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  }

  async journal(unit: string): Promise<string> {
    return (await this.exec(['journalctl', '--no-pager', '-o', 'cat', '-u', unit])).stdout;
  }

  /** A path inside the namespace's root, as the host reaches it. */
  path(p: string): string {
    return `/proc/${this.pid}/root${p}`;
  }

  /** Whether a pid of the namespace (as systemd reports them) is alive. */
  alive(nsPid: number): boolean {
    try {
      const stat = fs.readFileSync(this.path(`/proc/${nsPid}/stat`), 'utf8');
      return !/^\d+ \(.*\) Z/.test(stat);
    } catch {
      return false;
    }
  }

  /** Host pids of every process in the unit's control group (none once it is stopped). */
  unitProcesses(unit: string): number[] {
    return this.procs(path.join(this.cgroup, 'system.slice', unit));
  }

  private procs(dir: string): number[] {
    let out: number[] = [];
    try {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out = out.concat(this.procs(path.join(dir, e.name)));
      out = out.concat(fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number));
    } catch {
      // gone
    }
    return out;
  }

  /** Kills everything it started, by pid, and removes what was made for it. */
  async shutdown(): Promise<void> {
    const kill = (pid: number): void => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    };
    const unshare = this.proc.pid;
    // PID 1 of the namespace first: the kernel kills the rest of it, and unshare reaps it and exits
    if (this.pid > 0) kill(this.pid);
    for (const p of this.procs(this.cgroup)) if (p !== unshare) kill(p);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, 5_000)))]);
    clearTimeout(timer);
    if (unshare !== undefined && this.proc.exitCode === null && this.proc.signalCode === null) {
      kill(unshare);
      await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, 2_000)))]);
      clearTimeout(timer);
    }
    // the cgroups empty once the kernel has reaped the namespace
    await waitFor('the test cgroup to empty', () => this.procs(this.cgroup).length === 0, 5_000).catch(() => undefined);
    const rmdirs = (dir: string): void => {
      try {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmdirs(path.join(dir, e.name));
        fs.rmdirSync(dir);
      } catch {
        // busy or gone
      }
    };
    await waitFor(`cgroup ${this.cgroup} removed`, () => {
      rmdirs(this.cgroup);
      return !fs.existsSync(this.cgroup);
    }, 5_000).catch(() => undefined);
    // Never a recursive delete here: root/ and ovl/ were mount points, empty on the host's side.
    for (const f of ['boot.sh', 'console.log']) fs.rmSync(path.join(this.lab, f), { force: true });
    for (const d of ['ovl', 'root', '']) {
      try {
        fs.rmdirSync(path.join(this.lab, d));
      } catch {
        // not empty: left for inspection
      }
    }
  }
}
