#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DLAAPI
import Testing

@Suite struct InferenceBodyParserTests {
    private func parse(_ text: String) throws -> InferenceInputs { try InferenceBodyParser.parse(Array(text.utf8)) }

    @Test func nestedArraysKeepTheirShape() throws {
        #expect(try parse(#"{"inputs": [[1, 2, 3], [4, 5, 6]]}"#) == .single(NumericArray(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])))
        #expect(try parse(#" { "inputs" : [ [ [ [0.5] ] ] ] } "#) == .single(NumericArray(shape: [1, 1, 1, 1], values: [0.5])))
        #expect(try parse(#"{"inputs": {"a": [[1]], "b": [[2, 3]]}}"#)
                == .named([("a", NumericArray(shape: [1, 1], values: [1])), ("b", NumericArray(shape: [1, 2], values: [2, 3]))]))
    }

    @Test func numbersRoundExactlyAsFloatFromStringDoes() throws {
        var generator = SystemRandomNumberGenerator()
        var texts: [String] = ["0", "-0", "1e-45", "1.4e-45", "3.4028235e38", "3.4028236e38", "1e39", "-1e39", "0.1", "1e-50",
                               "0.30000001192092896", "16777217", "16777217.0", "1.00000005960464477539062", "123456789012345678901234567890",
                               "2.5e-08", "1E+2", "7.006492321624085e-46"]
        for _ in 0..<20_000 {
            let bits = UInt32.random(in: 0...UInt32.max, using: &generator)
            let float = Float(bitPattern: bits)
            guard float.isFinite else { continue }
            texts.append(float.description)
            texts.append(Double(float).description)
            let mantissa = UInt64.random(in: 0...999_999_999_999, using: &generator)
            texts.append("\(mantissa)e\(Int.random(in: -60...40, using: &generator))")
            texts.append("0.\(String(mantissa))")
        }
        for text in texts {
            let parsed = try InferenceBodyParser.parseArray(Array("[\(text)]".utf8))
            let expected = Float(text)!
            #expect(parsed.values[0].bitPattern == expected.bitPattern, "\(text): \(parsed.values[0]) vs \(expected)")
        }
    }

    @Test(arguments: [
        (#"[1, 2]"#, "expected '{'"),
        (#"{"inputs": [[1, 2], [3]]}"#, "ragged array"),
        (#"{"inputs": [[1, [2]]]}"#, "mixed numbers and arrays"),
        (#"{"inputs": [[1, 2],]}"#, "trailing comma"),
        (#"{"inputs": []}"#, "empty array"),
        (#"{"inputs": [[01]]}"#, "leading zeros"),
        (#"{"inputs": [[1.]]}"#, "digits after the decimal point"),
        (#"{"inputs": [[NaN]]}"#, "expected a number"),
        (#"{"inputs": [[1]], "extra": 1}"#, "unknown key \"extra\""),
        (#"{"inputs": [[1]]} x"#, "unexpected text after the object"),
        (#"{"inputs": [[1]"#, "unterminated"),
        (#"{"inputs": [[[[[[[[[1]]]]]]]]]}"#, "nested deeper than 8"),
        (#"{"inputs": {"a": [[1]], "a": [[2]]}}"#, "given twice"),
        (#"{}"#, "missing \"inputs\""),
    ])
    func malformedBodiesNameTheProblem(body: String, fragment: String) {
        do throws(NumericJSONError) {
            _ = try InferenceBodyParser.parse(Array(body.utf8))
            Issue.record("\(body) parsed")
        } catch {
            #expect(error.description.contains(fragment), "\(body): \(error)")
        }
    }
}

@Suite struct WireFormatTests {
    @Test func optionalFieldsAreWrittenAsNull() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let model = ModelInfo(name: "m", activeVersion: nil, versions: [
            ModelVersionInfo(version: 1, sha256: "ab", bytes: 2, precision: "int8", profile: "nv_full", createdAt: "t",
                             compressionRatio: nil, signature: nil, pushedBy: 0, active: false, inputs: [], outputs: []),
        ])
        let text = String(decoding: try encoder.encode(model), as: UTF8.self)
        #expect(text.contains("\"activeVersion\":null") && text.contains("\"signature\":null") && text.contains("\"compressionRatio\":null"))
        #expect(try JSONDecoder().decode(ModelInfo.self, from: Data(text.utf8)) == model)
        let page = String(decoding: try encoder.encode(InferencePage(items: [], next: nil)), as: UTF8.self)
        #expect(page == #"{"items":[],"next":null}"#)
    }
}

@Suite struct NonFiniteValueTests {
    @Test func nonFiniteOutputsAndScoresAreNullAndReadBackAsNaN() throws {
        let item = InferenceItem(id: 1, time: "t", model: "m", version: 1, status: "ok", batchSize: 1, latencyMicros: 1, cycles: 1,
                                 energyMicrojoules: 0, top1: [TopClass(index: 0, score: .infinity)], clientUid: 0, inputSha256: "", requestId: "r-1", error: nil)
        let detail = InferenceDetail(item: item, outputs: [[1, .nan, -.infinity]])
        let data = try JSONEncoder().encode(detail)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("[1,null,null]") && text.contains("\"score\":null"))
        let back = try JSONDecoder().decode(InferenceDetail.self, from: data)
        #expect(back.outputs[0][0] == 1 && back.outputs[0][1].isNaN && back.item.top1[0].score.isNaN)
    }
}

@Suite struct AgeTextTests {
    @Test func unitsAndRefusals() {
        #expect(AgeText.seconds("90s") == 90 && AgeText.seconds("15m") == 900 && AgeText.seconds("1h") == 3600 && AgeText.seconds("7d") == 604_800)
        #expect(AgeText.seconds("0s") == 0)
        #expect(AgeText.seconds("90") == nil && AgeText.seconds("1w") == nil && AgeText.seconds("-1h") == nil && AgeText.seconds("") == nil)
        #expect(AgeText.seconds("1099511627776d") == nil && AgeText.seconds("1099511627775d") == 1_099_511_627_775 * 86_400)
    }
}
