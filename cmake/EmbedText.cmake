# Writes INPUT's bytes into OUTPUT as `const char* const rocketmart::app::kOpenApiDocument`.
file(READ ${INPUT} content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," content "${content}")
file(WRITE ${OUTPUT} "namespace rocketmart::app {\nstatic const char kBytes[] = {${content} 0};\nextern const char* const kOpenApiDocument;\nconst char* const kOpenApiDocument = kBytes;\n}\n")
