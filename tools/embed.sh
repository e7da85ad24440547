#!/bin/sh
# embed.sh NAME FILE: prints a C file defining `const char NAME[]` holding
# FILE's text, so cnnc can paste runtime/cnnrt_model.h into generated headers.
name=$1
file=$2
echo "/* generated from $file by tools/embed.sh; do not edit */"
echo "const char $name[] ="
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$/\\n"/' "$file"
echo ";"
