import ArgumentParser
import Foundation
import RNNKit

@main
struct RNNKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rnnkit",
        abstract: "Recurrent neural networks (simple RNN, LSTM, GRU) in Swift: train, evaluate, predict, sample, translate, export, benchmark.",
        subcommands: [Train.self, Eval.self, Predict.self, Sample.self, Translate.self, Export.self, Bench.self, Demo.self, CharLM.self]
    )

    /// ArgumentParser's `main`, except that the ranks of a distributed run after 0 write their error
    /// as one line that names the rank (every rank meets the same error when the ranks disagree).
    static func main() {
        useTheWidestBLASKernels()
        do {
            var command = try parseAsRoot()
            try KernelISA.checkEnvironment()  // a bad RNNKIT_ISA or RNNKIT_GEMM is refused by name, not ignored
            try ProductLibrary.checkEnvironment()
            try command.run()
        } catch {
            if let group = ProcessGroup.current, !group.isPrimary, exitCode(for: error) != .success {
                let message = fullMessage(for: error)
                if !message.isEmpty { FileHandle.standardError.write(Data("rnnkit rank \(group.rank): \(message)\n".utf8)) }
                exit(withError: ExitCode(exitCode(for: error).rawValue))
            }
            exit(withError: error)
        }
    }

    /// Restarts this process with `OPENBLAS_CORETYPE` set when OpenBLAS chose narrower kernels than
    /// the CPU runs (`KernelISA.preferredBLASCore`); OpenBLAS reads the variable only as it loads.
    /// Nothing has happened yet, so the restart loses nothing; if it fails, the run goes on as it is.
    /// `RNNKIT_TEST_BLAS_RESTART=CORE` makes the same restart with that core on any CPU, so that the
    /// tests check the mechanism (the variable set, the arguments kept, OpenBLAS reading it) on
    /// machines where no restart is wanted.
    private static func useTheWidestBLASKernels() {
        #if os(Linux)
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil,
              let core = environment["RNNKIT_TEST_BLAS_RESTART"] ?? KernelISA.preferredBLASCore() else { return }
        guard setenv("OPENBLAS_CORETYPE", core, 1) == 0 else { return }  // set, so the restart happens once
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        #endif
    }
}
