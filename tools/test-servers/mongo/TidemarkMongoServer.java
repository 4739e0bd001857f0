import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import io.netty.channel.Channel;

/**
 * Runs mongo-java-server for tidemark's tests: `TidemarkMongoServer <host> <port> [h2-file]`.
 * Without a file the memory backend; with one the H2 backend on that file, so a restart keeps the data.
 */
public final class TidemarkMongoServer {
    public static void main(String[] args) throws Exception {
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: TidemarkMongoServer <host> <port> [h2-file]");
            System.exit(2);
        }
        MongoBackend backend = args.length == 3 ? new CommittingH2Backend(args[2]) : new MemoryBackend();
        MongoServer server = new MongoServer(backend);
        server.bind(args[0], Integer.parseInt(args[1]));
        // SIGTERM closes the store cleanly; SIGKILL is the crash the restart tests also exercise.
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        System.out.println("mongo-java-server listening on " + args[0] + ":" + args[1] + " (" + backend + ")");
    }

    /**
     * H2's store otherwise commits in the background about once a second, so a killed server would lose
     * writes it had acknowledged. Committing before every reply makes an acknowledgement mean "on disk",
     * as a journaled write does on MongoDB.
     */
    static final class CommittingH2Backend extends H2Backend {
        CommittingH2Backend(String file) {
            super(file);
        }

        @Override
        public Document handleCommand(Channel channel, String database, String command, Document query) {
            Document reply = super.handleCommand(channel, database, command, query);
            commit();
            return reply;
        }
    }
}
