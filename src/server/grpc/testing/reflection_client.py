#!/usr/bin/python3
"""A strict gRPC reflection client, the way grpcurl and grpcio tools use reflection, for
src/main/reflection-strict-client.test.ts.

    /usr/bin/python3 reflection_client.py unix:/path/to/api.sock

Debian's python3-grpcio (1.51) and python3-protobuf (3.21, the C++ descriptor pool, which
refuses a file whose imports or types do not resolve) only; Debian packages no
grpcio-reflection, so the reflection messages are declared here by hand from grpc's
reflection.proto (v1 and v1alpha are the same messages in two packages).

It lists the services over v1 and v1alpha; fetches each service's file by
file_containing_symbol and every import the files name by file_by_filename (as grpcurl does),
over both, which must serve the same bytes;
builds a fresh descriptor pool from exactly the served bytes, imports first (the well-known
types too: nothing comes from protobuf's default pool); resolves every method of every service
down to every field's message type; asks for an extension (which must be NOT_FOUND); and calls
gmempool.v1.Pool/GetPoolStatus with message classes made from the pool. It prints one JSON
object (the report) on stdout and exits 0, or names what failed on stderr and exits 1.
"""
import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

REFLECTION_PACKAGES = ("grpc.reflection.v1", "grpc.reflection.v1alpha")
DEADLINE_S = 10
STRING, INT32, BYTES, MESSAGE = (descriptor_pb2.FieldDescriptorProto.TYPE_STRING, descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
                                 descriptor_pb2.FieldDescriptorProto.TYPE_BYTES, descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE)
REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
# grpc/reflection/v1/reflection.proto: message -> [(field, number, type, message type, repeated, oneof)].
REFLECTION_MESSAGES = {
    "ServerReflectionRequest": [("host", 1, STRING, None, False, None),
                                ("file_by_filename", 3, STRING, None, False, 0),
                                ("file_containing_symbol", 4, STRING, None, False, 0),
                                ("file_containing_extension", 5, MESSAGE, "ExtensionRequest", False, 0),
                                ("all_extension_numbers_of_type", 6, STRING, None, False, 0),
                                ("list_services", 7, STRING, None, False, 0)],
    "ExtensionRequest": [("containing_type", 1, STRING, None, False, None), ("extension_number", 2, INT32, None, False, None)],
    "ServerReflectionResponse": [("valid_host", 1, STRING, None, False, None),
                                 ("original_request", 2, MESSAGE, "ServerReflectionRequest", False, None),
                                 ("file_descriptor_response", 4, MESSAGE, "FileDescriptorResponse", False, 0),
                                 ("all_extension_numbers_response", 5, MESSAGE, "ExtensionNumberResponse", False, 0),
                                 ("list_services_response", 6, MESSAGE, "ListServiceResponse", False, 0),
                                 ("error_response", 7, MESSAGE, "ErrorResponse", False, 0)],
    "FileDescriptorResponse": [("file_descriptor_proto", 1, BYTES, None, True, None)],
    "ExtensionNumberResponse": [("base_type_name", 1, STRING, None, False, None), ("extension_number", 2, INT32, None, True, None)],
    "ListServiceResponse": [("service", 1, MESSAGE, "ServiceResponse", True, None)],
    "ServiceResponse": [("name", 1, STRING, None, False, None)],
    "ErrorResponse": [("error_code", 1, INT32, None, False, None), ("error_message", 2, STRING, None, False, None)],
}
ONEOFS = {"ServerReflectionRequest": "message_request", "ServerReflectionResponse": "message_response"}
GRPC_NOT_FOUND = 5


class Failure(Exception):
    pass


def message_class(pool, full_name):
    """protobuf 4.22+ has message_factory.GetMessageClass; Debian's 3.21 the MessageFactory."""
    descriptor = pool.FindMessageTypeByName(full_name)
    get = getattr(message_factory, "GetMessageClass", None)
    return get(descriptor) if get is not None else message_factory.MessageFactory(pool).GetPrototype(descriptor)


def reflection_classes(package):
    """(request class, response class) of one reflection package, from a hand-built descriptor."""
    file = descriptor_pb2.FileDescriptorProto(name=f"{package.replace('.', '/')}/reflection.proto", package=package, syntax="proto3")
    for name, fields in REFLECTION_MESSAGES.items():
        message = file.message_type.add(name=name)
        if name in ONEOFS:
            message.oneof_decl.add(name=ONEOFS[name])
        for field, number, kind, type_name, repeated, oneof in fields:
            f = message.field.add(name=field, number=number, type=kind, label=REPEATED if repeated else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
            if type_name is not None:
                f.type_name = f".{package}.{type_name}"
            if oneof is not None:
                f.oneof_index = oneof
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(file.SerializeToString())
    return message_class(pool, f"{package}.ServerReflectionRequest"), message_class(pool, f"{package}.ServerReflectionResponse")


class Reflection:
    """One reflection package's ServerReflectionInfo: one request per stream, its one answer."""

    def __init__(self, channel, package):
        self.package = package
        self.request, response = reflection_classes(package)
        self.info = channel.stream_stream(f"/{package}.ServerReflection/ServerReflectionInfo",
                                          request_serializer=self.request.SerializeToString, response_deserializer=response.FromString)

    def ask(self, **fields):
        answers = list(self.info(iter([self.request(**fields)]), timeout=DEADLINE_S))
        if len(answers) != 1:
            raise Failure(f"{self.package}: {len(answers)} answers to {fields}")
        return answers[0]

    def ask_ok(self, expected, **fields):
        answer = self.ask(**fields)
        kind = answer.WhichOneof("message_response")
        if kind != expected:
            error = answer.error_response
            raise Failure(f"{self.package} {fields}: {kind} (code {error.error_code}: {error.error_message!r}), not {expected}")
        return getattr(answer, expected)


def fetch_files(reflection, services):
    """Serialized files by name, as grpcurl gathers them: of each answer only its first file (the
    one asked for), so each service's file comes by file_containing_symbol and every import, to
    the last, by file_by_filename."""
    served = {}
    by_name = {}

    def first(blobs, asked):
        if not blobs:
            raise Failure(f"{asked}: no file in the answer")
        proto = descriptor_pb2.FileDescriptorProto.FromString(blobs[0])
        served[proto.name], by_name[proto.name] = blobs[0], proto
        return proto

    for service in services:
        proto = first(reflection.ask_ok("file_descriptor_response", file_containing_symbol=service).file_descriptor_proto, service)
        if service.rsplit(".", 1)[1] not in [s.name for s in proto.service]:
            raise Failure(f"file_containing_symbol {service}: {proto.name} does not declare it")
    missing = [dep for proto in list(by_name.values()) for dep in proto.dependency]
    while missing:
        name = missing.pop()
        if name in by_name:
            continue
        proto = first(reflection.ask_ok("file_descriptor_response", file_by_filename=name).file_descriptor_proto, name)
        if proto.name != name:
            raise Failure(f"file_by_filename {name}: the answer starts with {proto.name}")
        missing.extend(proto.dependency)
    return served, by_name


def build_pool(served, by_name):
    """A fresh pool of exactly the served bytes, each file after its imports; the order added."""
    pool = descriptor_pool.DescriptorPool()
    added = []

    def add(name, chain):
        if name in added:
            return
        if name in chain:
            raise Failure(f"import cycle: {' -> '.join(chain + [name])}")
        for dep in by_name[name].dependency:
            add(dep, chain + [name])
        pool.AddSerializedFile(served[name])
        added.append(name)

    for name in sorted(by_name):
        add(name, [])
    return pool, added


def resolve_message(descriptor, seen):
    """Makes a message class for the type and every message type its fields reach."""
    if descriptor.full_name in seen:
        return
    seen.add(descriptor.full_name)
    message_class(descriptor.file.pool, descriptor.full_name)
    for field in descriptor.fields:
        if field.message_type is not None:
            resolve_message(field.message_type, seen)


def leading_comments(by_name):
    """Each method's leading comment from its file's source_code_info (path 6, s, 2, m)."""
    comments = {}
    for proto in by_name.values():
        locations = {tuple(l.path): l.leading_comments for l in proto.source_code_info.location}
        for s, service in enumerate(proto.service):
            for m, method in enumerate(service.method):
                comments[f"{proto.package}.{service.name}/{method.name}"] = locations.get((6, s, 2, m), "")
    return comments


def describe_methods(pool, services, by_name):
    comments = leading_comments(by_name)
    methods = {}
    seen = set()
    for service in services:
        descriptor = pool.FindServiceByName(service)
        proto = descriptor_pb2.ServiceDescriptorProto()
        descriptor.CopyToProto(proto)
        for method, method_proto in zip(descriptor.methods, proto.method):
            resolve_message(method.input_type, seen)
            resolve_message(method.output_type, seen)
            methods[f"{service}/{method.name}"] = {
                "input": method.input_type.full_name,
                "output": method.output_type.full_name,
                "client_streaming": method_proto.client_streaming,
                "server_streaming": method_proto.server_streaming,
                "comment": comments.get(f"{service}/{method.name}", ""),
            }
    return methods, len(seen)


def main(target):
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=DEADLINE_S)
        listed = {}
        for package in REFLECTION_PACKAGES:
            answer = Reflection(channel, package).ask_ok("list_services_response", list_services="*")
            listed[package] = sorted(s.name for s in answer.service)
        if listed[REFLECTION_PACKAGES[0]] != listed[REFLECTION_PACKAGES[1]]:
            raise Failure(f"v1 and v1alpha list different services: {listed}")
        services = listed[REFLECTION_PACKAGES[0]]
        reflection = Reflection(channel, REFLECTION_PACKAGES[0])
        served, by_name = fetch_files(reflection, services)
        # grpcio 1.51's own reflection client (grpcio-reflection) still asks v1alpha.
        if fetch_files(Reflection(channel, REFLECTION_PACKAGES[1]), services)[0] != served:
            raise Failure("v1 and v1alpha serve different files")
        pool, added = build_pool(served, by_name)
        methods, message_count = describe_methods(pool, services, by_name)
        extension = reflection.ask(file_containing_extension={"containing_type": "gmempool.v1.PoolStatus", "extension_number": 1000})
        if extension.WhichOneof("message_response") != "error_response" or extension.error_response.error_code != GRPC_NOT_FOUND:
            raise Failure(f"file_containing_extension: {extension}, not NOT_FOUND")

        method = pool.FindServiceByName("gmempool.v1.Pool").methods_by_name["GetPoolStatus"]
        request_class = message_class(pool, method.input_type.full_name)
        response_class = message_class(pool, method.output_type.full_name)
        call = channel.unary_unary("/gmempool.v1.Pool/GetPoolStatus", request_serializer=request_class.SerializeToString,
                                   response_deserializer=response_class.FromString)
        response = call(request_class(), timeout=DEADLINE_S)
        json.dump({
            "services": services,
            "files": added,
            "methods": methods,
            "message_types_resolved": message_count,
            "file_containing_extension": {"code": extension.error_response.error_code, "message": extension.error_response.error_message},
            "get_pool_status": json.loads(json_format.MessageToJson(response, preserving_proto_field_name=True)),
        }, sys.stdout, indent=1)
        print()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} unix:/path/to/api.sock")
    try:
        main(sys.argv[1])
    except (Failure, grpc.RpcError, TypeError, KeyError) as error:
        sys.exit(f"reflection_client: {type(error).__name__}: {error}")
