package org.clustermd.cluster.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Test helper: finds the real NBD clients and runs them. A missing tool fails the test, naming its apt package. */
final class ExternalTools {
    private ExternalTools() {}

    /** Fails unless {@code tool} is installed; {@code aptPackage} is what to install. */
    static void require(String tool, String aptPackage) {
        for (String dir : new String[] {"/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"}) {
            if (Files.isExecutable(Path.of(dir, tool))) return;
        }
        fail(tool + " is not installed: apt-get install " + aptPackage);
    }

    /** The result of a finished command. */
    record Result(int exit, String output) {}

    /** Runs {@code cmd}, waiting at most {@code seconds}; kills it (and fails) past that. */
    static Result exec(long seconds, List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        byte[][] out = new byte[1][];
        Thread reader = new Thread(() -> {
            try {
                out[0] = p.getInputStream().readAllBytes();
            } catch (IOException e) {
                out[0] = ("(output lost: " + e + ")").getBytes(StandardCharsets.UTF_8);
            }
        });
        reader.start();
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            reader.join(5000);
            fail(String.join(" ", cmd) + " did not finish within " + seconds + " s; output:\n" + text(out[0]));
        }
        reader.join(10_000);
        return new Result(p.exitValue(), text(out[0]));
    }

    /** Runs {@code cmd} and asserts it exits 0; returns its output. */
    static String run(long seconds, String... cmd) throws IOException, InterruptedException {
        Result r = exec(seconds, List.of(cmd));
        assertThat(r.exit()).as("%s exited with %d:%n%s", String.join(" ", cmd), r.exit(), r.output()).isZero();
        return r.output();
    }

    private static String text(byte[] b) {
        return b == null ? "" : new String(b, StandardCharsets.UTF_8);
    }
}
