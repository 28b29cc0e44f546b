import Foundation
import Logging
import Testing
@testable import Systemd

@Suite struct JournalFieldsTests {
    @Test(arguments: [
        ("model", "MODEL"), ("model_version", "MODEL_VERSION"), ("modelVersion", "MODEL_VERSION"),
        ("request-id", "REQUEST_ID"), ("requestID", "REQUEST_ID"), ("clientUID", "CLIENT_UID"),
        ("client.uid", "CLIENT_UID"), ("_hidden", "HIDDEN"), ("__", "FIELD"), ("", "FIELD"),
        ("2fa", "FIELD_2FA"), ("größe", "GR__E"), ("message", "META_MESSAGE"), ("priority", "META_PRIORITY"),
        ("MESSAGE_ID", "MESSAGE_ID"), ("queue2Depth", "QUEUE2_DEPTH"),
    ])
    func metadataKeysBecomeValidFieldNames(key: String, name: String) {
        #expect(JournalFields.fieldName(forMetadataKey: key) == name)
    }

    @Test func fieldNamesStayWithinJournaldsLimit() {
        let name = JournalFields.fieldName(forMetadataKey: String(repeating: "a", count: 100))
        #expect(name.count == 64)
    }

    @Test func everyFieldNameFollowsJournaldsRules() {
        for key in ["model", "ünïcödé key", "9lives", "a-b.c d", "x" + String(repeating: "Y", count: 80), "request_id"] {
            let name = JournalFields.fieldName(forMetadataKey: key)
            #expect(!name.isEmpty && name.count <= 64)
            #expect(name.allSatisfy { ($0.isASCII && ($0.isUppercase || $0.isNumber)) || $0 == "_" }, "\(name)")
            #expect(!(name.first!.isNumber) && name.first != "_", "\(name)")
        }
    }

    @Test func levelsMapToSyslogPriorities() {
        let priorities = Logger.Level.allCases.map(JournalFields.priority)
        #expect(priorities == [7, 7, 6, 5, 4, 3, 2])
    }

    struct ModelRejected: Error, CustomStringConvertible {
        var description: String { "signature does not verify" }
    }

    @Test func anEventBecomesMessagePriorityLocationIdentifierAndMetadata() {
        let event = LogEvent(
            level: .error, message: "push rejected", error: ModelRejected(), metadata: nil,
            source: "DLADaemon", file: "DLADaemon/Push.swift", function: "push(_:)", line: 42)
        let fields = JournalFields.fields(
            for: event, label: "dlad.api", identifier: "dlad",
            metadata: ["requestID": "r-17", "model": "lenet5", "modelVersion": "3", "clientUID": "1000"])
        #expect(fields.map(\.description) == [
            "MESSAGE=push rejected", "PRIORITY=3", "CODE_FILE=DLADaemon/Push.swift", "CODE_LINE=42",
            "CODE_FUNC=push(_:)", "SYSLOG_IDENTIFIER=dlad", "LOGGER=dlad.api", "ERROR=signature does not verify",
            "CLIENT_UID=1000", "MODEL=lenet5", "MODEL_VERSION=3", "REQUEST_ID=r-17",
        ])
    }

    @Test func plainTextLineHasTimeLevelLabelMessageAndSortedMetadata() {
        let event = LogEvent(
            level: .warning, message: "queue full\nretrying", metadata: nil,
            source: nil, file: "f.swift", function: "f()", line: 1)
        let time = UTCTime(secondsSinceEpoch: 1_796_625_662, milliseconds: 7)
        let line = PlainTextLog.line(for: event, label: "dlad.engine", metadata: ["queue": "64", "model": "lenet5"], time: time)
        #expect(line == "2026-12-07T06:41:02.007Z warning dlad.engine: queue full retrying model=lenet5 queue=64")
    }

    @Test func journalStreamMustNameStderrsDeviceAndInode() {
        #expect(LogDestination.isJournalStream("2049:123456", device: 2049, inode: 123_456))
        #expect(!LogDestination.isJournalStream("2049:123457", device: 2049, inode: 123_456))
        #expect(!LogDestination.isJournalStream(nil, device: 2049, inode: 123_456))
        #expect(!LogDestination.isJournalStream("", device: 0, inode: 0))
        #expect(!LogDestination.isJournalStream("2049:123456:1", device: 2049, inode: 123_456))
        #expect(!LogDestination.isJournalStream("x:y", device: 0, inode: 0))
    }

    @Test func handlerWritesPlainTextLinesToItsFileDescriptor() throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        defer { close(ends[0]) }
        var handler = JournalLogHandler(label: "dlad.api", identifier: "dlad", destination: .fileDescriptor(ends[1]), metadataProvider: nil)
        handler.metadata = ["model": "lenet5"]
        handler.logLevel = .debug
        var logger = Logger(label: "dlad.api") { _ in handler }
        logger.logLevel = .debug
        logger.info("activated", metadata: ["modelVersion": "3"])
        logger.debug("request done", metadata: ["model": "mnist-mlp"])
        close(ends[1])
        let text = String(decoding: FileHandle(fileDescriptor: ends[0]).readDataToEndOfFile(), as: UTF8.self)
        let lines = text.split(separator: "\n").map { String($0.drop { $0 != " " }.dropFirst()) }
        #expect(lines == ["info dlad.api: activated model=lenet5 modelVersion=3", "debug dlad.api: request done model=mnist-mlp"])
    }
}
