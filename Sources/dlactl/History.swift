import ArgumentParser
import DLAAPI
import DLAClient
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `dlactl history`: the stored inference history, newest first, page by page.
struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Query dlad's inference history (newest first).",
        discussion: """
            Prints an aligned table by default (the newest 20 rows), or every matching row with \
            --ndjson (one JSON object a line, for log shippers) or --csv; --json prints one JSON \
            array. --limit caps the rows in every format. --since and --until take an age (90s, \
            15m, 1h, 7d), an RFC 3339 time or Unix seconds.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, csv, ndjson }

    @OptionGroup var connection: DaemonConnection
    @Option(help: "Only this model.") var model: String?
    @Option(help: "Only this version (with --model).") var version: Int?
    @Option(help: ArgumentHelp("Rows stored since then: 1h, 7d, 2026-12-07T06:00:00Z, …", valueName: "time")) var since: String?
    @Option(help: ArgumentHelp("Rows stored before then.", valueName: "time")) var until: String?
    @Option(help: ArgumentHelp("ok, error, or an error code (timeout, overloaded, bad_request, …).", valueName: "status")) var status: String?
    @Option(name: .customLong("request-id"), help: ArgumentHelp("Only the row of this request: the X-Request-Id dlad answered with, the journal's REQUEST_ID.", valueName: "id"))
    var requestID: String?
    @Option(help: "At most this many rows (default: 20 for the table and --json, all for --csv and --ndjson).") var limit: Int?
    @Flag(help: "One JSON array.") var json = false
    @Flag(help: "Comma-separated values with a header line.") var csv = false
    @Flag(help: "One JSON object per line.") var ndjson = false

    func validate() throws {
        if [json, csv, ndjson].filter({ $0 }).count > 1 { throw ValidationError("choose one of --json, --csv and --ndjson") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        if version != nil && model == nil { throw ValidationError("--version needs --model") }
    }

    func run() throws {
        let client = connection.client()
        let cap = limit ?? (csv || ndjson ? Int.max : 20)
        var query: [(String, String)] = []
        if let model { query.append(("model", model)) }
        if let version { query.append(("version", String(version))) }
        if let since { query.append(("since", since)) }
        if let until { query.append(("until", until)) }
        if let status { query.append(("status", status)) }
        if let requestID { query.append(("requestId", requestID)) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var table = TextTable(["ID", "TIME", "MODEL", "VERSION", "STATUS", "ROWS", "LATENCY µs", "TOP-1", "UID"], rightAligned: [0, 3, 5, 6, 8])
        var collected: [InferenceItem] = []
        if csv { print("id,time,model,version,status,batch_size,latency_us,cycles,energy_uj,top1,client_uid,input_sha256,request_id,error") }
        var printed = 0
        var cursor: Int64?
        repeat {
            var pageQuery = query + [("limit", String(min(1000, cap - printed)))]
            if let cursor { pageQuery.append(("after", String(cursor))) }
            let page = try talking { () throws(DLAClientError) in try client.inferences(pageQuery) }
            for item in page.items {
                let top1 = item.top1.map { String($0.index) }.joined(separator: " ")
                if ndjson {
                    print(String(decoding: try encoder.encode(item), as: UTF8.self))
                } else if csv {
                    print([String(item.id), item.time, item.model, String(item.version), item.status, String(item.batchSize),
                           String(item.latencyMicros), String(item.cycles), String(item.energyMicrojoules), top1,
                           String(item.clientUid), item.inputSha256, Self.csvField(item.requestId),
                           Self.csvField(item.error ?? "")].joined(separator: ","))
                } else if json {
                    collected.append(item)
                } else {
                    table.append([String(item.id), item.time, item.model, "v\(item.version)", item.status, String(item.batchSize),
                                  String(item.latencyMicros), top1.count > 24 ? String(top1.prefix(23)) + "…" : top1, String(item.clientUid)])
                }
            }
            printed += page.items.count
            cursor = page.next
        } while cursor != nil && printed < cap
        if json {
            let pretty = JSONEncoder()
            pretty.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try pretty.encode(collected), as: UTF8.self))
        } else if !csv && !ndjson {
            if printed == 0 { print("no inferences match") } else { table.render().forEach { print($0) } }
        }
    }

    /// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + String(text.flatMap { $0 == "\"" ? ["\"", "\""] : [$0] }) + "\""
    }
}
