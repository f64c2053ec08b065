package org.clustermd.cluster.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;

/**
 * The JSON the read verbs print ({@code --json}), written by Jackson: records by component name
 * (so a model written with md's field names comes out with md's field names), ordered maps in
 * their order, lists, strings, numbers, booleans and null. The command line is the only user of
 * Jackson in cluster-md, so the dependency is optional and an embedder never gets it.
 *
 * <p>Stateless and thread-safe (Jackson's writers are, once configured).
 */
final class Json {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    /** Two-space indents and {@code "key": value}, as examine printed before Jackson wrote it. */
    private static final ObjectWriter PRETTY = MAPPER.writer(new DefaultPrettyPrinter()
            .withSeparators(Separators.createDefaultInstance().withObjectFieldValueSpacing(Separators.Spacing.AFTER)));

    private Json() {}

    /** {@code value} on one line. */
    static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getSimpleName() + " as JSON", e);
        }
    }

    /** {@code value} indented, one field a line. */
    static String pretty(Object value) {
        try {
            return PRETTY.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getSimpleName() + " as JSON", e);
        }
    }
}
