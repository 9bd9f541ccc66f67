@testable import ActorCluster
import Foundation
import Synchronization
import XCTest

/// A replica store on a disk that fills up: a write that would go below the free-space reserve is refused
/// before it changes anything (`StoreError.diskFull`), the store keeps serving reads and recovers by itself once
/// space is freed, and what was acknowledged is exactly what a reopen finds.
final class DiskSpaceTests: XCTestCase {
    private var root: URL!

    override func setUp() {
        super.setUp()
        root = FileManager.default.temporaryDirectory.appendingPathComponent("disk-space-\(UUID().uuidString)")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: root)
        super.tearDown()
    }

    func test_theGuardAdmitsWritesDownToTheReserveAndCountsThemBetweenReadings() {
        let free = Mutex(10_000)
        let readings = Mutex(0)
        var d = DiskSpace(path: "/x", reserveBytes: 4_000, refreshMs: 60_000) { _ in
            readings.withLock { $0 += 1 }
            return .init(availableBytes: free.withLock { $0 }, totalBytes: 100_000)
        }
        XCTAssertEqual(readings.withLock { $0 }, 1)
        XCTAssertTrue(d.admit(2_000))
        XCTAssertEqual(d.availableBytes, 8_000, "admitted bytes count before the file system shows them")
        XCTAssertEqual(readings.withLock { $0 }, 1, "no new reading while the margin is wide")
        free.withLock { $0 -= 2_000 }  // written
        XCTAssertTrue(d.admit(2_000))
        XCTAssertEqual(readings.withLock { $0 }, 2, "a new reading once half the margin may be used")
        free.withLock { $0 -= 2_000 }
        XCTAssertTrue(d.admit(2_000), "exactly down to the reserve")
        free.withLock { $0 -= 2_000 }
        XCTAssertFalse(d.admit(1), "below the reserve")
        XCTAssertEqual(d.availableBytes, 4_000)
        free.withLock { $0 = 50_000 }  // an operator freed space
        XCTAssertTrue(d.admit(1_000), "a new reading is taken when the margin is used up")
        XCTAssertEqual(d.availableBytes, 49_000)
    }

    func test_theDefaultReserveIsFivePercentBetweenOneAnd256MiB() {
        XCTAssertEqual(DiskSpace(path: "/x") { _ in .init(availableBytes: 0, totalBytes: 4 << 20) }.reserveBytes, 1 << 20)
        XCTAssertEqual(DiskSpace(path: "/x") { _ in .init(availableBytes: 0, totalBytes: 100 << 20) }.reserveBytes, 5 << 20)
        XCTAssertEqual(DiskSpace(path: "/x") { _ in .init(availableBytes: 0, totalBytes: 1 << 40) }.reserveBytes, 256 << 20)
        XCTAssertNotNil(DiskSpace.statvfsReading(NSTemporaryDirectory()))
    }

    func test_aFullDiskRefusesAppendsWithoutChangingTheReplicaAndRecoversWhenSpaceIsFreed() async throws {
        let dir = root.appendingPathComponent("replicas").path
        let free = Mutex(1 << 30)
        let disk = DiskSpace(path: dir, reserveBytes: 1 << 20, refreshMs: 0) { _ in
            .init(availableBytes: free.withLock { $0 }, totalBytes: 2 << 30)
        }
        let (log, _) = try GroupCommitLog.open(directory: dir, options: Replication.ReplicaStore.journalOptions)
        let store = Replication.ReplicaStore(journal: log, disk: disk)
        let owner = Replication.Ballot(round: 1, node: NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 9), uid: 7))
        func append(_ index: UInt64, _ text: String) -> Replication.Request {
            .append(stream: "s", ballot: owner, prevIndex: index - 1, prevBallot: index == 1 ? .zero : owner,
                    entries: [.init(index: index, ballot: owner, payload: Array(text.utf8))], commitIndex: index - 1)
        }
        _ = try await store.handle(.prepare(stream: "s", ballot: owner))
        guard case .accepted(1) = try await store.handle(append(1, "first")) else { return XCTFail("not accepted") }

        free.withLock { $0 = (1 << 20) + 100 }
        do {
            _ = try await store.handle(append(2, "second"))
            XCTFail("accepted on a full disk")
        } catch Replication.StoreError.diskFull(let available, let reserve) {
            XCTAssertEqual(available, (1 << 20) + 100)
            XCTAssertEqual(reserve, 1 << 20)
        }
        let lastIndex = await store.log(of: "s")?.lastIndex
        XCTAssertEqual(lastIndex, 1, "a refused append changes nothing")
        let reason = await store.diskFullReason
        XCTAssertNotNil(reason)
        let failure = await store.failureReason
        XCTAssertNil(failure, "a full disk is not a failed journal: it clears by itself")
        // Reads (fetches) still answer.
        guard case .entries(let got) = try await store.handle(.fetch(stream: "s", ballot: owner, after: 0, maxBytes: 1 << 20)) else {
            return XCTFail("fetch refused")
        }
        XCTAssertEqual(got.map { String(decoding: $0.payload, as: UTF8.self) }, ["first"])

        free.withLock { $0 = 1 << 30 }
        guard case .accepted(2) = try await store.handle(append(2, "second")) else { return XCTFail("not accepted after space was freed") }
        let cleared = await store.diskFullReason
        XCTAssertNil(cleared)
        try await log.close()

        let (reopened, _) = try await Replication.ReplicaStore.open(directory: dir)
        let entries = await reopened.log(of: "s")?.entries.map { String(decoding: $0.payload, as: UTF8.self) }
        XCTAssertEqual(entries, ["first", "second"], "exactly the acknowledged entries, nothing invented")
    }
}
