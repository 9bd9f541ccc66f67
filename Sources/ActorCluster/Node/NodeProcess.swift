import Foundation

/// A node running as a child process (`hotline node ...`), started by tests, `hotline demo` and
/// `hotline bench`.
///
/// The child must print one line `ready name=<name> listen=<HOST:PORT> uid=<hex>` on stdout when it
/// serves calls; `start` waits for it (bounded by `timeout`). The child's stderr is passed through to
/// this process's stderr unless `quiet`. `stop()` sends SIGTERM and waits (bounded), `kill()` sends SIGKILL.
public final class NodeProcess: @unchecked Sendable {
    // @unchecked: `process` is only mutated in init; the ready fields are written once before init returns.
    public let process: Process
    /// Identity parsed from the ready line.
    public let node: NodeIdentity
    public let name: String
    /// The admin port from the ready line's optional ` admin=HOST:PORT` field.
    public let admin: NodeAddress?

    /// Why a node process could not be started.
    public enum StartError: Error, CustomStringConvertible {
        case launchFailed(String)
        case exitedBeforeReady(status: Int32, output: String)
        case noReadyLine(afterMilliseconds: Int, output: String)
        case badReadyLine(String)

        public var description: String {
            switch self {
            case .launchFailed(let why): "could not launch node: \(why)"
            case .exitedBeforeReady(let status, let out): "node exited with status \(status) before ready: \(out)"
            case .noReadyLine(let ms, let out): "node printed no ready line within \(ms) ms: \(out)"
            case .badReadyLine(let line): "unparsable ready line: \(line)"
            }
        }
    }

    /// Launches `executable` with `arguments` (e.g. `["node", "--name", "a", "--listen", "127.0.0.1:0"]`)
    /// and waits up to `timeout` for its ready line.
    ///
    /// - Throws: `StartError`.
    /// - Parameter logFile: where the child's stderr goes (created; overrides `quiet`), so a caller can show
    ///   the last lines of a node that died (`logTail`).
    public init(executable: URL, arguments: [String], timeout: Duration = .seconds(30), quiet: Bool = true,
                logFile: URL? = nil) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        if let logFile, FileManager.default.createFile(atPath: logFile.path, contents: nil),
           let handle = try? FileHandle(forWritingTo: logFile) {
            process.standardError = handle
        } else {
            process.standardError = quiet ? FileHandle.nullDevice : FileHandle.standardError
        }
        self.logFile = logFile
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw StartError.launchFailed("\(executable.path): \(error)")
        }
        self.process = process
        let reader = stdout.fileHandleForReading
        let fd = reader.fileDescriptor
        var buffer: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        var line: String?
        readLoop: while line == nil {
            let remaining = deadline - .now
            if remaining <= .zero {
                process.terminate()
                throw StartError.noReadyLine(afterMilliseconds: Int(timeout.components.seconds * 1000),
                                             output: String(decoding: buffer, as: UTF8.self))
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ms = Int32(min(1000, max(1, remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)))
            let ready = poll(&pfd, 1, ms)
            if ready <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 {
                process.waitUntilExit()
                throw StartError.exitedBeforeReady(status: process.terminationStatus,
                                                   output: String(decoding: buffer, as: UTF8.self))
            }
            buffer.append(contentsOf: chunk[0..<n])
            while let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let text = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                if text.hasPrefix("ready ") {
                    line = text
                    break readLoop
                }
            }
        }
        guard let line, let parsed = NodeProcess.parseReadyLine(line) else {
            process.terminate()
            throw StartError.badReadyLine(line ?? "")
        }
        self.name = parsed.name
        self.node = parsed.node
        self.admin = NodeProcess.readyLineFields(line)["admin"].flatMap(NodeAddress.init(parsing:))
        // Keep draining stdout so the child never blocks on a full pipe. The handler holds the pipe until it sees
        // end of file: the pipe's descriptor must not be closed (and its number reused) while the dispatch source
        // behind the handler still watches it — libdispatch's event loop crashed on such a stale registration
        // (signal 11 in `_dispatch_event_loop_drain` while a test waited for a killed node).
        reader.readabilityHandler = { [stdout] handle in
            if handle.availableData.isEmpty {
                handle.readabilityHandler = nil
                withExtendedLifetime(stdout) {}
            }
        }
    }

    /// Parses `ready name=<name> listen=<HOST:PORT> uid=<hex>` (later fields, such as ` admin=HOST:PORT`, are
    /// allowed: `readyLineFields`).
    public static func parseReadyLine(_ line: String) -> (name: String, node: NodeIdentity)? {
        let fields = readyLineFields(line)
        guard let name = fields["name"], let listen = fields["listen"], let address = NodeAddress(parsing: listen),
              let uidText = fields["uid"], let uid = UInt64(uidText, radix: 16) else { return nil }
        return (name, NodeIdentity(address: address, uid: uid))
    }

    /// The `key=value` fields of a ready line.
    public static func readyLineFields(_ line: String) -> [String: String] {
        var fields: [String: String] = [:]
        for part in line.split(separator: " ").dropFirst() {
            guard let eq = part.firstIndex(of: "=") else { continue }
            fields[String(part[..<eq])] = String(part[part.index(after: eq)...])
        }
        return fields
    }

    public var isRunning: Bool { process.isRunning }

    /// The child's process id.
    public var pid: Int32 { process.processIdentifier }

    /// Where the child's stderr goes, when a log file was given.
    public let logFile: URL?

    /// The last `lines` lines of the log file (reads at most its last 64 KiB); empty without one.
    public func logTail(lines: Int) -> [String] {
        guard let logFile, let handle = try? FileHandle(forReadingFrom: logFile) else { return [] }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 65_536 ? size - 65_536 : 0)
        let data = (try? handle.readToEnd()) ?? Data()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(lines).map(String.init)
    }

    /// The whole text of a `/proc` file (`/proc/self/maps`, `/proc/<pid>/status`, `/proc/net/tcp`, …), read until
    /// end of file, at most `maxBytes` (default 8 MiB); nil when it cannot be opened or read.
    ///
    /// `String(contentsOfFile:)` is not enough here: a `/proc` file reports size 0, and Foundation then reads a
    /// single page (4,093 bytes of `/proc/self/maps` measured), so anything after it was silently missing.
    public static func procFileText(_ path: String, maxBytes: Int = 8 << 20) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var data = Data()
        while data.count < maxBytes {
            let chunk: Data?
            do { chunk = try handle.read(upToCount: min(65_536, maxBytes - data.count)) } catch { return nil }
            // nil or empty: end of file.
            guard let chunk, !chunk.isEmpty else { break }
            data.append(chunk)
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Resident memory (VmRSS) of process `pid` in KiB, from `/proc/<pid>/status`; nil where there is none.
    public static func residentKiB(pid: Int32) -> Int? {
        guard let text = procFileText("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        return nil
    }

    /// How the process ended ("exit 0", "signal 11"), or nil while it runs.
    public var endedHow: String? {
        guard !process.isRunning else { return nil }
        return process.terminationReason == .uncaughtSignal ? "signal \(process.terminationStatus)"
            : "exit \(process.terminationStatus)"
    }

    /// SIGKILL, then waits for the process to be reaped.
    public func kill() {
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// A power loss: SIGKILL to every running process of `processes` first, then waits for each to exit. Killing
    /// them one after another (`kill()` waits for each exit, tens of ms) left the survivors time to see the first
    /// deaths and move work onto the others before they died too — no longer every process at once.
    public static func killAll(_ processes: [NodeProcess]) {
        let running = processes.filter { $0.process.isRunning }
        for p in running { Foundation.kill(p.process.processIdentifier, SIGKILL) }
        for p in running { p.process.waitUntilExit() }
    }

    /// SIGTERM and waits up to `timeout` for a clean exit (then SIGKILL). Returns the exit status.
    @discardableResult
    public func stop(timeout: Duration = .seconds(10)) -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        process.terminate()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(5_000) }
        if process.isRunning { kill() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { if process.isRunning { kill() } }
}
