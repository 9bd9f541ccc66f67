import Foundation
import XCTest
@testable import ActorCluster

/// `MemberMemory`: the agreed member set kept across restarts in the data directory.
final class MemberMemoryTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("member-memory-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
        super.tearDown()
    }

    private func a(_ port: UInt16) -> NodeAddress { NodeAddress(host: "127.0.0.1", port: port) }

    func test_aSavedSetIsReadBackSorted_andTheSameSetIsNotWrittenTwice() throws {
        let path = dir + "/members.json"
        let memory = try MemberMemory(path: path)
        XCTAssertEqual(memory.remembered, [], "no file: nothing remembered")
        XCTAssertTrue(try memory.save([a(7003), a(7001), a(7002), a(7001)]))
        XCTAssertFalse(try memory.save([a(7002), a(7001), a(7003)]), "same set: no write")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp"))
        let again = try MemberMemory(path: path)
        XCTAssertEqual(again.remembered, [a(7001), a(7002), a(7003)])
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text, "{\"agreed\":[\"127.0.0.1:7001\",\"127.0.0.1:7002\",\"127.0.0.1:7003\"],\"version\":1}\n")
        XCTAssertTrue(try again.save([a(7001)]))
        XCTAssertEqual(again.remembered, [a(7001)])
        XCTAssertEqual(try MemberMemory(path: path).remembered, [a(7001)])
    }

    func test_aDirectoryWithStateButNoFileFormsNoCluster_unlessTheOperatorForcesIt() throws {
        let path = dir + "/members.json"
        XCTAssertTrue(try MemberMemory(path: path, holdsState: true).formsNoCluster, "replicas, no member file")
        XCTAssertFalse(try MemberMemory(path: path, holdsState: false).formsNoCluster, "a new data directory")
        XCTAssertFalse(try MemberMemory(path: path, forget: true, holdsState: true).formsNoCluster, "--force-new-cluster")
        try MemberMemory(path: path).save([a(1), a(2)])
        XCTAssertFalse(try MemberMemory(path: path, holdsState: true).formsNoCluster, "the file says which cluster")
    }

    /// Breaker, 2026-12-02: a newcomer killed before its join was answered had no member file and no replicas; restarted
    /// first after a power loss, it formed a cluster of one as its own seed and handed out case numbers from 1 again.
    func test_contactWithAnotherNodeIsMarked_andARestartOnThatDirectoryFormsNoCluster() throws {
        let path = dir + "/members.json"
        let first = try MemberMemory(path: path)
        XCTAssertFalse(first.formsNoCluster)
        XCTAssertEqual(first.foundAs, .absent)
        XCTAssertTrue(try first.recordContact(), "first contact: marked")
        XCTAssertFalse(try first.recordContact(), "once")
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "{\"agreed\":[],\"version\":1}\n")
        let restarted = try MemberMemory(path: path)
        XCTAssertTrue(restarted.formsNoCluster, "in contact before, no agreed set: joins only a running cluster")
        XCTAssertEqual(restarted.foundAs, .contact)
        XCTAssertEqual(restarted.remembered, [])
        XCTAssertFalse(try restarted.recordContact(), "the mark is there")
        XCTAssertFalse(try MemberMemory(path: path, forget: true).formsNoCluster, "--force-new-cluster")
        XCTAssertFalse(try MemberMemory(path: path, forget: true).recordContact(), "a forced start does not mark")

        // Once a set is agreed, the file names it and the mark is gone; contact writes nothing over it.
        XCTAssertTrue(try restarted.save([a(1), a(2)]))
        XCTAssertFalse(try restarted.recordContact())
        let member = try MemberMemory(path: path)
        XCTAssertFalse(member.formsNoCluster)
        XCTAssertEqual(member.foundAs, .agreed)
        XCTAssertEqual(member.remembered, [a(1), a(2)])
    }

    func test_aDanglingSymlinkIsUnreadable_notMissing() throws {
        let path = dir + "/members.json"
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: dir + "/gone.json")
        XCTAssertThrowsError(try MemberMemory(path: path)) { XCTAssertTrue("\($0)".contains("cannot read"), "\($0)") }
    }

    func test_forgetIgnoresTheFileUntilTheNextSave() throws {
        let path = dir + "/members.json"
        try MemberMemory(path: path).save([a(1), a(2), a(3)])
        let forgot = try MemberMemory(path: path, forget: true)
        XCTAssertEqual(forgot.remembered, [])
        XCTAssertTrue(try forgot.save([a(1), a(2), a(3)]), "written again: the file is the truth from now on")
        XCTAssertEqual(try MemberMemory(path: path).remembered, [a(1), a(2), a(3)])
    }

    func test_aFileThatIsNotAMemberFileIsRefusedWithItsReason() throws {
        let path = dir + "/members.json"
        for (content, reason) in [("garbage", "not a member file"), ("{\"version\":2,\"agreed\":[]}", "version 2"),
                                  ("{\"version\":1,\"agreed\":[\"nohost\"]}", "\"nohost\" is not HOST:PORT")] {
            try Data(content.utf8).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try MemberMemory(path: path)) { error in
                XCTAssertTrue("\(error)".contains(path) && "\(error)".contains(reason), "\(error)")
            }
            XCTAssertEqual(try MemberMemory(path: path, forget: true).remembered, [], "the operator's way out reads nothing")
        }
    }
}
