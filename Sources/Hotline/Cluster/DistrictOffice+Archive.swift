import ActorCluster
import Distributed
import Foundation

/// The office's archive (`CaseArchive`): closed cases read on demand, and compaction (Raft §7).
extension DistrictOffice {
    /// Cases held: live and archived.
    var caseCount: Int { cases.count + archived.count }

    /// The case `id`: live, or read from the archive file and replayed; nil when not held.
    ///
    /// - Throws: `HotlineError.unavailable` when the case is archived but its record cannot be read or decoded
    ///   (logged, counted in `archiveErrors`): the archive file is only this node's copy of the stream's snapshot,
    ///   so the office reads its stream again from the replicas (`reloadArchive`) and a retry finds the case.
    ///   Never nil for a case held: a caller must not take an unreadable case for an unknown one (an intake
    ///   would open a second case for a retried request).
    func loadCase(_ id: CaseID) throws -> CaseLog? {
        if let log = cases[id] { return log }
        guard let a = archived[id] else { return nil }
        do {
            if let chunks = a.chunks {
                let decoder = Wire.BinaryDecoder()
                return try CaseLog(replaying: try chunks.flatMap { try decoder.decode([CaseEvent].self, from: $0) }, settings: context.settings)
            }
            guard let archive else { throw CaseArchive.ArchiveError.io("no archive file") }
            return try CaseLog(replaying: try archive.events(at: a.location), settings: context.settings)
        } catch {
            archiveErrors += 1
            context.system.metrics.counter("hotline_archive_errors_total", help: "Archived cases whose record could not be read or decoded.").increment()
            actorSystem.logger.error("district.archive_case_unreadable", ["jurisdiction": jurisdiction, "case": id.rawValue,
                                                                         "number": a.number.description, "error": "\(error)",
                                                                         "effect": "the office reads its stream again from its replicas"])
            reloadArchive()
            throw HotlineError.unavailable("case \(a.number) is archived but its record on this node cannot be read (\(error)); the office is reading its cases again from its replicas: retry")
        }
    }

    /// The archive file failed a read: once per stream, the office stops serving and recovers from its replicas
    /// (after the current call has thrown), which writes a fresh archive file from the stream's snapshot.
    func reloadArchive() {
        guard let s = stream, reloadingFor !== s else { return }
        reloadingFor = s
        Task { [weak self] in await self?.whenLocal { $0.archiveFailed(stream: s) } }
    }

    /// The case numbered `number` (live ones first; an archived one read from the archive).
    func caseLog(number: CaseNumber) throws -> CaseLog? {
        if let log = cases.values.first(where: { $0.order.number == number }) { return log }
        guard let (id, _) = archived.first(where: { $0.value.number == number }) else { return nil }
        return try loadCase(id)
    }

    /// Every case id held, sorted (cached until a case is added).
    func allIDsSorted() -> [CaseID] {
        if let sortedIDs { return sortedIDs }
        var ids = Array(cases.keys)
        ids.reserveCapacity(cases.count + archived.count)
        ids += archived.keys
        ids.sort()
        sortedIDs = ids
        return ids
    }

    /// The closed cases of `category` an intake contact with `phoneKey` may be about (closed within the repeat
    /// window, same phone key), read from the archive, with the leads they were merged under: what
    /// `IntakeMatcher` looks at among archived cases (it matches closed cases by phone only).
    func archivedMatchCandidates(category: String, phoneKey: String?, at now: Date) throws -> [WorkOrder] {
        guard let phoneKey else { return [] }
        let window = Double(context.settings.repeatWindowDays) * 86_400
        var out: [WorkOrder] = []
        var seen: Set<CaseID> = []
        for (id, a) in archived where a.status == .closed && a.category == category && a.phoneKey == phoneKey {
            guard let at = a.closedAt, now.timeIntervalSince(at) <= window, let log = try loadCase(id) else { continue }
            out.append(log.order)
            seen.insert(id)
            if let lead = a.mergedInto, cases[lead] == nil, !seen.contains(lead), let l = try loadCase(lead) {
                out.append(l.order)
                seen.insert(lead)
            }
        }
        return out
    }

    /// Holds a closed case recovered from the entries after the snapshot (new: not held before) as an index entry
    /// with its encoded changes, instead of a decoded `CaseLog` (a fifth of the memory).
    func storeRecoveredClosed(_ log: CaseLog, chunks: [[UInt8]]) {
        let h = CaseArchive.Header(log)
        Self.gauge(h.status, context.system.metrics).increment()
        sortedIDs = nil
        for k in h.intakeKeys { byIntakeKey[k] = h.id }
        if let lead = h.mergedInto { childrenOf[lead, default: []].insert(h.id) }
        archived[h.id] = ArchivedCase(h, chunks: chunks)
    }

    /// Bytes of changes after which the office snapshots its cases: `HotlineContext.snapshotMinBytes`, and at
    /// least half the last snapshot (so writing snapshots costs at most about twice the changes).
    var compactionThreshold: Int { max(context.snapshotMinBytes, lastSnapshotBytes / 2) }

    /// File names of this office's archives start with this (the stream name in hex).
    var archivePrefix: String { "district-" + streamName.utf8.map { String(format: "%02x", $0) }.joined() }

    /// The directory of archive files (created when missing): `HotlineContext.archiveDirectory`, else one under
    /// the temporary directory for this process.
    ///
    /// - Throws: the file system's error.
    func archiveDirectory() throws -> String {
        let dir = context.archiveDirectory ?? (NSTemporaryDirectory() + "hotline-archives-\(getpid())")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Deletes this office's archive files other than the one it holds (left by a crash or an earlier recovery).
    func removeStaleArchives() {
        guard let dir = try? archiveDirectory(), let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        let keep = archive.map { ($0.path as NSString).lastPathComponent }
        for name in names where name.hasPrefix(archivePrefix + ".") && name.hasSuffix(".archive") && name != keep {
            try? FileManager.default.removeItem(atPath: dir + "/" + name)
        }
    }

    /// Writes a new archive through `appliedIndex` and hands it to the stream (Raft §7) when enough changed since
    /// the last one and no change is being replicated. The archived cases' records are copied from the previous
    /// file as byte ranges (not decoded); every live case is encoded; live cases that are closed and await no
    /// delivery become index entries afterwards (unless they changed meanwhile). Nothing is held whole in memory:
    /// the stream sends replicas pages read from the file.
    func compactIfDue() async {
        guard phase == .serving, !compacting, commitsInFlight == 0, bytesSinceSnapshot >= compactionThreshold,
              let stream, appliedIndex > 0 else { return }
        compacting = true
        defer { compacting = false }
        let started = ContinuousClock.now
        let through = appliedIndex
        let sinceBefore = bytesSinceSnapshot
        let file: CaseArchive.File
        var moved: [(CaseID, Int, CaseArchive.Location)] = []
        var copied: [(CaseID, CaseArchive.Location)] = []
        var fromChunks: [(CaseID, CaseArchive.Location)] = []
        do {
            let dir = try archiveDirectory()
            let writer = try CaseArchive.FileWriter(path: "\(dir)/\(archivePrefix).\(through).\(UInt32.random(in: 0...UInt32.max)).archive")
            do {
                if let archive {
                    let old = archived.compactMap { $0.value.chunks == nil ? ($0.key, $0.value.location) : nil }.sorted { $0.1.offset < $1.1.offset }
                    let locations: [CaseArchive.Location]
                    do {
                        locations = try writer.copy(old.map(\.1), from: archive)
                    } catch {
                        // A record of this node's copy failed its CRC-32C (or could not be read): nothing of it goes
                        // into a snapshot; the office reads its stream again from the replicas, which hold it whole.
                        archiveErrors += 1
                        context.system.metrics.counter("hotline_archive_errors_total", help: "Archived cases whose record could not be read or decoded.").increment()
                        actorSystem.logger.error("district.archive_damaged", ["jurisdiction": jurisdiction, "error": "\(error)",
                                                                              "effect": "no snapshot taken; the office reads its stream again from its replicas"])
                        reloadArchive()
                        throw error
                    }
                    copied = zip(old.map(\.0), locations).map { ($0, $1) }
                }
                let encoder = Wire.BinaryEncoder()
                // Closed cases held as their encoded changes: one record each.
                for (id, a) in archived where a.chunks != nil {
                    guard let log = try loadCase(id) else { continue }
                    let location = try writer.append(CaseArchive.Header(log), events: try encoder.encode(log.events)[...])
                    fromChunks.append((id, location))
                }
                for log in cases.values {
                    let header = CaseArchive.Header(log)
                    let location = try writer.append(header, events: try encoder.encode(log.events)[...])
                    if !header.live { moved.append((log.id, log.events.count, location)) }
                }
                file = try writer.finish()
            } catch {
                unlink(writer.path)
                throw error
            }
        } catch {
            actorSystem.logger.warning("district.snapshot_failed", ["jurisdiction": jurisdiction, "error": "\(error)"])
            bytesSinceSnapshot = 0  // try again after as many changes
            return
        }
        guard await stream.compact(through: through, source: file) else { return }
        guard self.stream === stream, phase == .serving else { return }
        // Cases archived before keep their place in the new file; closed cases unchanged since they were written
        // become index entries. Cases changed meanwhile stay live (the next snapshot has them).
        for (id, location) in copied where archived[id] != nil { archived[id]!.location = location }
        for (id, location) in fromChunks where archived[id]?.chunks != nil {
            archived[id]!.location = location
            archived[id]!.chunks = nil
        }
        for (id, count, location) in moved {
            guard let log = cases[id], log.events.count == count else { continue }
            let header = CaseArchive.Header(log)
            guard !header.live else { continue }
            cases[id] = nil
            encodedSizes[id] = nil
            supervisionDueAt[id] = nil
            archived[id] = ArchivedCase(header, at: location)
        }
        archive = file
        lastSnapshotBytes = file.size
        bytesSinceSnapshot = max(0, bytesSinceSnapshot - sinceBefore)
        removeStaleArchives()
        actorSystem.logger.info("district.compacted", ["jurisdiction": jurisdiction, "through": through, "bytes": file.size,
                                                       "archived": archived.count, "live": cases.count,
                                                       "ms": Int((ContinuousClock.now - started) / .milliseconds(1))])
    }
}

extension Array where Element: Comparable {
    /// The first position whose element is above `after`, in a sorted array (binary search).
    func firstIndexAbove(_ after: Element) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if self[mid] <= after { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
