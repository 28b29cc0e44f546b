import DLACompiler
import DLAEngine
import DLAFormat
import Testing

/// `--self-test`: the compiled file carries inputs in the model's input type and the emulator's
/// outputs for them; running them again reproduces every bit, and a changed expectation fails.
@Suite struct SelfTestVectorTests {
    @Test(arguments: ["mlp-int8-qdq", "mlp-fp8-e4m3fn", "mlp-fp8-e5m2"])
    func vectorsReproduceAndCatchChanges(_ name: String) throws {
        var options = CompileOptions()
        options.selfTestInputs = try FixtureFiles.batch("data/mnist-test-300.images-flat.npy", rows: 4)
        let compilation = try Compiler.compile(try FixtureFiles.model(name), options: options)
        let loaded = try DLAFile.read(try DLAFile.write(compilation.model, environment: [:]))
        #expect(loaded.selfTests.count == 1)
        let test = try #require(loaded.selfTests.first)
        #expect(test.inputs[0].shape == [4, 784])
        #expect(test.inputs[0].values.dataType == loaded.metadata.inputs[0].dataType)
        let compiled = try ModelAdapter.compile(loaded)
        #expect(try SelfTestVectors.verify(compiled, profile: .nvFull, tests: loaded.selfTests).isEmpty)

        var broken = test
        var codes = broken.expectedOutputs[0].values.codes
        codes[3] ^= 1
        broken.expectedOutputs[0].values = DLATensorValues(codes: codes, dataType: broken.expectedOutputs[0].values.dataType)
        let failures = try SelfTestVectors.verify(compiled, profile: .nvFull, tests: [broken])
        #expect(failures.count == 1)
        #expect(failures.first?.contains("1 of 40 elements") == true)
    }
}
