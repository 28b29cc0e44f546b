@testable import DLAEngine
import DLAFormat
import Testing

/// The one binding of `.npy` arrays to model inputs, shared by `dlactl run` and the daemon.
@Suite struct InputArrayTests {
    let int8Input = ActivationSpec(name: "x", sampleShape: [2, 3], elementType: .int8,
                                   quantization: ActivationQuantization(scale: 0.5, zeroPoint: 0))

    @Test func floatsOfEitherWidthAndTheInputsOwnCodesAreTaken() throws {
        let values: [Double] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
        let wide = try InputArray(try NPYArray(float64: values, shape: [2, 2, 3]), spec: int8Input, allowingUnbatched: false)
        #expect(wide.rows == 2 && wide.batched)
        guard case .float32(let tensor) = wide.value else { Issue.record("not FP32"); return }
        #expect(tensor.shape == [2, 2, 3] && tensor.scalars == values.map(Float.init))
        let codes = try InputArray(try NPYArray(int8: [1, -2, 3, -4, 5, -6], shape: [1, 2, 3]), spec: int8Input, allowingUnbatched: false)
        guard case .int8(let int8s) = codes.value else { Issue.record("not INT8"); return }
        #expect(int8s.scalars == [1, -2, 3, -4, 5, -6])
        let int32Input = ActivationSpec(name: "i", sampleShape: [2], elementType: .int32)
        let words = try InputArray(try NPYArray(int32: [7, -70000, 1, 2], shape: [2, 2]), spec: int32Input, allowingUnbatched: false)
        guard case .int32(let int32s) = words.batch([1, 0]) else { Issue.record("not INT32"); return }
        #expect(int32s.shape == [2, 2] && int32s.scalars == [1, 2, 7, -70000])
    }

    @Test func aBareSampleIsOneRowOnlyWhereAllowed() throws {
        let sample = try NPYArray(float32: [Float](repeating: 1, count: 6), shape: [2, 3])
        let bare = try InputArray(sample, spec: int8Input, allowingUnbatched: true)
        #expect(bare.rows == 1 && !bare.batched)
        #expect(throws: InputArrayError.mismatch(accepted: [.float32, .float64, .int8], sample: [2, 3], got: .float32, shape: [2, 3])) {
            try InputArray(sample, spec: int8Input, allowingUnbatched: false)
        }
    }

    @Test func refusalsNameWhatWasExpectedAndFound() throws {
        func refusal(_ array: NPYArray, _ spec: ActivationSpec) -> String {
            do {
                _ = try InputArray(array, spec: spec, allowingUnbatched: true)
                return "accepted"
            } catch {
                return error.description
            }
        }
        let floatInput = ActivationSpec(name: "f", sampleShape: [4], elementType: .float16)
        #expect(refusal(try NPYArray(int8: [1, 2, 3, 4], shape: [1, 4]), floatInput) == "expected float32 or float64 [N, 4], got int8 [1, 4]")
        #expect(refusal(try NPYArray(float32: [1, 2, 3], shape: [1, 3]), floatInput) == "expected float32 or float64 [N, 4], got float32 [1, 3]")
        #expect(refusal(try NPYArray(float32: [], shape: [0, 4]), floatInput) == "no samples (shape [0, 4]); need at least one row")
        #expect(refusal(try NPYArray(float32: [0, 0, 0, 0, 0, .nan, 0, .nan], shape: [2, 4]), floatInput)
            == "2 NaN values, the first in row 1 at element 1; NaN has no quantized value")
        let int32Input = ActivationSpec(name: "i", sampleShape: [1], elementType: .int32)
        #expect(refusal(try NPYArray(float32: [1], shape: [1, 1]), int32Input) == "expected int32 [N, 1], got float32 [1, 1]")
    }
}
