export { type DynamoDbLocalOptions, type DynamoDbLocalTestServer, startDynamoDbLocal } from "./dynamodb.js";
export { type EtcdServerOptions, type EtcdTestServer, startEtcd } from "./etcd.js";
export {
  type MongoJavaServerOptions,
  type MongoJavaTestServer,
  mongoJavaServerClasspath,
  startMongoJavaServer,
} from "./mongo.js";
export { type PostgresServerOptions, type PostgresTestServer, startPostgres } from "./postgres.js";
export { freePorts, type ServerContext, type ServerSpec, type StopOptions, TestServer } from "./server.js";
export { TcpFaultProxy } from "./tcp-fault-proxy.js";
