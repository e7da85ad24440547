#!/bin/sh
# embed.sh NAME FILE: prints a C file defining `const char *const NAME[]`,
# FILE's lines (NULL-terminated), so cnnc can paste runtime/cnnrt_model.h
# into generated headers and runtime/cnnrt_act.h into generated sources.  An array of lines, as one literal would pass the
# 4095 characters ISO C promises to support.
name=$1
file=$2
echo "/* generated from $file by tools/embed.sh; do not edit */"
echo "#include <stddef.h>"
echo "const char *const $name[] = {"
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$/\\n",/' "$file"
echo "    NULL,"
echo "};"
