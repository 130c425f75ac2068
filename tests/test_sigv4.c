
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <stdio.h>
#include <stdlib.h>
#include "gateway_test.h"
#include "ngx_gateway_sigv4.h"


/*
 * AWS's published SigV4 test suite (aws-sig-v4-test-suite, the 2015
 * edition): region us-east-1, service "service", the example keys, the
 * time 20150830T123600Z; each request with its canonical request, string
 * to sign and signature.
 */

#define SUITE_DATE    "20150830T123600Z"
#define SUITE_KEY     "AKIDEXAMPLE"
#define SUITE_SECRET  "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


typedef struct {
    const char  *name;
    const char  *value;
} suite_header_t;


typedef struct {
    const char      *name;
    const char      *method;
    const char      *path;
    const char      *query;
    ngx_uint_t       nheaders;
    suite_header_t   headers[8];
    const char      *body;
    const char      *creq;
    const char      *sts;
    const char      *signature;
} suite_case_t;


static suite_case_t  suite[] = {

    { "get-header-key-duplicate",
      "GET", "/",
      "",
      5, {
          { "Host",
            "example.amazonaws.com" },
          { "My-Header1",
            "value2" },
          { "My-Header1",
            "value2" },
          { "My-Header1",
            "value1" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/\n"
      "\n"
      "host:example.amazonaws.com\n"
      "my-header1:value2,value2,value1\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;my-header1;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe"
      "966c",
      "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a51"
      "38ea" },

    { "get-header-value-order",
      "GET", "/",
      "",
      6, {
          { "Host",
            "example.amazonaws.com" },
          { "My-Header1",
            "value4" },
          { "My-Header1",
            "value1" },
          { "My-Header1",
            "value3" },
          { "My-Header1",
            "value2" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/\n"
      "\n"
      "host:example.amazonaws.com\n"
      "my-header1:value4,value1,value3,value2\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;my-header1;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c5"
      "8b86",
      "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c75"
      "5c01" },

    { "get-header-value-trim",
      "GET", "/",
      "",
      4, {
          { "Host",
            "example.amazonaws.com" },
          { "My-Header1",
            "value1" },
          { "My-Header2",
            "\"a   b   c\"" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/\n"
      "\n"
      "host:example.amazonaws.com\n"
      "my-header1:value1\n"
      "my-header2:\"a b c\"\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;my-header1;my-header2;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f286"
      "05c7",
      "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9"
      "c736" },

    { "get-unreserved",
      "GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrs"
      "tuvwxyz",
      "",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrs"
      "tuvwxyz\n"
      "\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c00827574"
      "46f9",
      "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5"
      "f24f" },

    { "get-vanilla",
      "GET", "/",
      "",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/\n"
      "\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c2529292"
      "7e63",
      "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763f"
      "bf31" },

    { "get-vanilla-empty-query-key",
      "GET", "/",
      "Param1=value1",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/\n"
      "Param1=value1\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c5"
      "17ab",
      "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b"
      "9aeb" },

    { "get-vanilla-query",
      "GET", "/",
      "",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/\n"
      "\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c2529292"
      "7e63",
      "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763f"
      "bf31" },

    { "get-vanilla-query-order-key",
      "GET", "/",
      "Param1=value2&Param1=Value1",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/\n"
      "Param1=Value1&Param1=value2\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d3"
      "8f89",
      "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b238"
      "2bd1" },

    { "get-vanilla-query-order-key-case",
      "GET", "/",
      "Param2=value2&Param1=value1",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/\n"
      "Param1=value1&Param2=value2\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf"
      "19e0",
      "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf"
      "2500" },

    { "get-vanilla-query-order-value",
      "GET", "/",
      "Param1=value2&Param1=value1",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/\n"
      "Param1=value1&Param1=value2\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f88"
      "4606",
      "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c"
      "4694" },

    { "get-vanilla-query-unreserved",
      "GET", "/",
      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
      "uvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
      "nopqrstuvwxyz",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/\n"
      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
      "uvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
      "nopqrstuvwxyz\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab97"
      "9177",
      "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a4"
      "0197" },

    { "get-vanilla-utf8-query",
      "GET", "/",
      "\341\210\264=bar",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/\n"
      "%E1%88%B4=bar\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a"
      "7073",
      "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818"
      "dd04" },

    { "post-header-key-case",
      "POST", "/",
      "",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "POST\n"
      "/\n"
      "\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622"
      "fc87",
      "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe"
      "5d6b" },

    { "post-header-key-sort",
      "POST", "/",
      "",
      3, {
          { "Host",
            "example.amazonaws.com" },
          { "My-Header1",
            "value1" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "POST\n"
      "/\n"
      "\n"
      "host:example.amazonaws.com\n"
      "my-header1:value1\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;my-header1;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f8"
      "7d65",
      "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18"
      "852c" },

    { "post-header-value-case",
      "POST", "/",
      "",
      3, {
          { "Host",
            "example.amazonaws.com" },
          { "My-Header1",
            "VALUE1" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "POST\n"
      "/\n"
      "\n"
      "host:example.amazonaws.com\n"
      "my-header1:VALUE1\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;my-header1;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a6461860"
      "6a93",
      "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b97"
      "4b7d" },

    { "post-vanilla",
      "POST", "/",
      "",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "POST\n"
      "/\n"
      "\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622"
      "fc87",
      "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe"
      "5d6b" },

    { "post-vanilla-empty-query-value",
      "POST", "/",
      "Param1=value1",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "POST\n"
      "/\n"
      "Param1=value1\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340"
      "fbbd",
      "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af"
      "7f11" },

    { "post-vanilla-query",
      "POST", "/",
      "Param1=value1",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "POST\n"
      "/\n"
      "Param1=value1\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340"
      "fbbd",
      "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af"
      "7f11" },

    { "post-x-www-form-urlencoded",
      "POST", "/",
      "",
      4, {
          { "Content-Type",
            "application/x-www-form-urlencoded" },
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
          { "Content-Length",
            "13" },
      },
      "Param1=value1",
      "POST\n"
      "/\n"
      "\n"
      "content-length:13\n"
      "content-type:application/x-www-form-urlencoded\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "content-length;content-type;host;x-amz-date\n"
      "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d"
      "0b6e",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c215402"
      "1281",
      "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09"
      "473a" },

    { "post-x-www-form-urlencoded-parameters",
      "POST", "/",
      "",
      4, {
          { "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8" },
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
          { "Content-Length",
            "13" },
      },
      "Param1=value1",
      "POST\n"
      "/\n"
      "\n"
      "content-length:13\n"
      "content-type:application/x-www-form-urlencoded; charset=utf-"
      "8\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "content-length;content-type;host;x-amz-date\n"
      "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d"
      "0b6e",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "2e1cf7ed91881a30569e46552437e4156c823447bf1781b921b5d486c568"
      "dd1c",
      "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77"
      "a6fe" },

    { "get-relative",
      "GET", "/example/..",
      "",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/\n"
      "\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c2529292"
      "7e63",
      "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763f"
      "bf31" },

    { "get-relative-relative",
      "GET", "/example1/example2/../..",
      "",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/\n"
      "\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c2529292"
      "7e63",
      "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763f"
      "bf31" },

    { "get-slash",
      "GET", "//",
      "",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/\n"
      "\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c2529292"
      "7e63",
      "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763f"
      "bf31" },

    { "get-slash-dot-slash",
      "GET", "/./",
      "",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/\n"
      "\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c2529292"
      "7e63",
      "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763f"
      "bf31" },

    { "get-slash-pointless-dot",
      "GET", "/./example",
      "",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/example\n"
      "\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180c"
      "f702",
      "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db63"
      "7ec5" },

    { "get-slashes",
      "GET", "//example//",
      "",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "GET\n"
      "/example/\n"
      "\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985"
      "c015",
      "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f5"
      "7e84" },

    { "post-sts-header-after",
      "POST", "/",
      "",
      2, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
      },
      "",
      "POST\n"
      "/\n"
      "\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622"
      "fc87",
      "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe"
      "5d6b" },

    { "post-sts-header-before",
      "POST", "/",
      "",
      3, {
          { "Host",
            "example.amazonaws.com" },
          { "X-Amz-Date",
            "20150830T123600Z" },
          { "X-Amz-Security-Token",
            "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4"
            "FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI"
            "/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQ"
            "DYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT"
            "38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9K"
            "SYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==" },
      },
      "",
      "POST\n"
      "/\n"
      "\n"
      "host:example.amazonaws.com\n"
      "x-amz-date:20150830T123600Z\n"
      "x-amz-security-token:AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9"
      "SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYR"
      "qTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8"
      "phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQ"
      "cHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8F"
      "DrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==\n"
      "\n"
      "host;x-amz-date;x-amz-security-token\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
      "b855",
      "AWS4-HMAC-SHA256\n"
      "20150830T123600Z\n"
      "20150830/us-east-1/service/aws4_request\n"
      "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a8"
      "82f6",
      "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be0"
      "5ead" },

};


/*
 * The two x-www-form-urlencoded cases of the suite disagree with
 * themselves: their string to sign and signature were made from a
 * canonical request without Content-Length (and, for the second, with
 * "charset=utf8"), not from the canonical request published beside
 * them.  Their canonical requests are checked; the rest is not.
 */

static ngx_uint_t
stale(suite_case_t *t)
{
    return ngx_strncmp(t->name, "post-x-www-form-urlencoded", 26) == 0;
}


static ngx_str_t
str(const char *s)
{
    ngx_str_t  v;

    v.data = (u_char *) s;
    v.len = strlen(s);

    return v;
}


static void
suite_request(ngx_pool_t *pool, suite_case_t *t,
    ngx_gateway_sigv4_request_t *req)
{
    ngx_uint_t  i;

    req->method = str(t->method);
    req->path = str(t->path);
    req->query = str(t->query);
    req->nheaders = t->nheaders;
    req->headers = ngx_palloc(pool, t->nheaders
                                    * sizeof(ngx_gateway_sigv4_header_t));
    assert_non_null(req->headers);

    for (i = 0; i < t->nheaders; i++) {
        req->headers[i].name = str(t->headers[i].name);
        req->headers[i].value = str(t->headers[i].value);
    }

    req->payload.data = ngx_pnalloc(pool, NGX_GATEWAY_SHA256_HEX_LEN);
    req->payload.len = NGX_GATEWAY_SHA256_HEX_LEN;
    assert_int_equal(ngx_gateway_sha256_hex(req->payload.data,
                                            (u_char *) t->body,
                                            strlen(t->body)),
                     NGX_OK);
}


static void
assert_str(ngx_str_t *got, const char *want, const char *name)
{
    if (got->len != strlen(want)
        || ngx_strncmp(got->data, want, got->len) != 0)
    {
        fail_msg("%s: got\n%.*s\nwanted\n%s", name, (int) got->len,
                 got->data, want);
    }
}


static void
test_suite_canonical_requests(void **state)
{
    ngx_str_t                     creq, signed_headers;
    ngx_uint_t                    i;
    ngx_pool_t                   *pool;
    ngx_gateway_sigv4_request_t   req;

    pool = gateway_test_pool();

    for (i = 0; i < sizeof(suite) / sizeof(suite[0]); i++) {
        suite_request(pool, &suite[i], &req);

        assert_int_equal(ngx_gateway_sigv4_canonical_request(pool, &req,
                                                             &creq,
                                                             &signed_headers),
                         NGX_OK);
        assert_str(&creq, suite[i].creq, suite[i].name);
    }

    ngx_destroy_pool(pool);
}


static void
test_suite_strings_to_sign(void **state)
{
    ngx_str_t                     creq, sts, signed_headers, region, service;
    ngx_uint_t                    i;
    ngx_pool_t                   *pool;
    ngx_gateway_sigv4_request_t   req;

    pool = gateway_test_pool();
    region = str("us-east-1");
    service = str("service");

    for (i = 0; i < sizeof(suite) / sizeof(suite[0]); i++) {
        if (stale(&suite[i])) {
            continue;
        }

        suite_request(pool, &suite[i], &req);

        assert_int_equal(ngx_gateway_sigv4_canonical_request(pool, &req,
                                                             &creq,
                                                             &signed_headers),
                         NGX_OK);
        assert_int_equal(ngx_gateway_sigv4_string_to_sign(pool,
                             (u_char *) SUITE_DATE, &region, &service,
                             &creq, &sts),
                         NGX_OK);
        assert_str(&sts, suite[i].sts, suite[i].name);
    }

    ngx_destroy_pool(pool);
}


static void
test_suite_signatures(void **state)
{
    u_char                         want[512];
    ngx_str_t                      auth, region, service, creq, sh;
    ngx_uint_t                     i;
    ngx_pool_t                    *pool;
    ngx_gateway_sigv4_key_t        cache;
    ngx_gateway_sigv4_request_t    req;
    ngx_gateway_aws_credentials_t  creds;

    pool = gateway_test_pool();
    region = str("us-east-1");
    service = str("service");

    ngx_memzero(&cache, sizeof(cache));
    ngx_memzero(&creds, sizeof(creds));
    creds.access_key = str(SUITE_KEY);
    creds.secret_key = str(SUITE_SECRET);
    creds.generation = 1;

    for (i = 0; i < sizeof(suite) / sizeof(suite[0]); i++) {
        if (stale(&suite[i])) {
            continue;
        }

        suite_request(pool, &suite[i], &req);

        assert_int_equal(ngx_gateway_sigv4_canonical_request(pool, &req,
                                                             &creq, &sh),
                         NGX_OK);

        assert_int_equal(ngx_gateway_sigv4_authorization(pool, &cache,
                             &creds, &region, &service,
                             (u_char *) SUITE_DATE, &req, &auth),
                         NGX_OK);

        *ngx_snprintf(want, sizeof(want) - 1,
                      "AWS4-HMAC-SHA256 Credential=" SUITE_KEY
                      "/20150830/us-east-1/service/aws4_request, "
                      "SignedHeaders=%V, Signature=%s", &sh,
                      suite[i].signature) = '\0';

        assert_str(&auth, (char *) want, suite[i].name);
    }

    /* one day, one region, one service, the same keys: derived once */
    assert_int_equal(cache.derived, 1);

    ngx_destroy_pool(pool);
}


/* the signing key of a day is made once, and again for a new day or keys */

static void
test_signing_key_cache(void **state)
{
    u_char                         *k, first[32];
    ngx_str_t                       region, service;
    ngx_gateway_sigv4_key_t         cache;
    ngx_gateway_aws_credentials_t   creds;

    region = str("eu-west-1");
    service = str("lambda");

    ngx_memzero(&cache, sizeof(cache));
    ngx_memzero(&creds, sizeof(creds));
    creds.access_key = str(SUITE_KEY);
    creds.secret_key = str(SUITE_SECRET);
    creds.generation = 7;

    k = ngx_gateway_sigv4_signing_key(&cache, &creds,
                                      (u_char *) "20260101T000000Z",
                                      &region, &service);
    assert_non_null(k);
    ngx_memcpy(first, k, 32);

    k = ngx_gateway_sigv4_signing_key(&cache, &creds,
                                      (u_char *) "20260101T235959Z",
                                      &region, &service);
    assert_memory_equal(k, first, 32);
    assert_int_equal(cache.derived, 1);

    /* the next day */
    k = ngx_gateway_sigv4_signing_key(&cache, &creds,
                                      (u_char *) "20260102T000000Z",
                                      &region, &service);
    assert_int_equal(cache.derived, 2);
    assert_memory_not_equal(k, first, 32);

    /* new keys, the same day */
    creds.secret_key = str("another/secret+key0123456789abcdefghijkl");
    creds.generation = 8;
    (void) ngx_gateway_sigv4_signing_key(&cache, &creds,
                                         (u_char *) "20260102T000000Z",
                                         &region, &service);
    assert_int_equal(cache.derived, 3);

    /* a secret longer than any AWS makes is refused, nothing derived */
    creds.secret_key.len = NGX_GATEWAY_AWS_SECRET_MAX + 1;
    creds.generation = 9;
    assert_null(ngx_gateway_sigv4_signing_key(&cache, &creds,
                    (u_char *) "20260102T000000Z", &region, &service));
    assert_int_equal(cache.valid, 0);
}


typedef ngx_int_t (*canonical_pt)(ngx_pool_t *pool, ngx_str_t *in,
    ngx_str_t *out);


/* each case's canonical form of its first string is its second */

static void
check_canonical(canonical_pt canonical, const char *cases[][2], ngx_uint_t n)
{
    ngx_str_t    in, out;
    ngx_uint_t   i;
    ngx_pool_t  *pool;

    pool = gateway_test_pool();

    for (i = 0; i < n; i++) {
        in = str(cases[i][0]);
        assert_int_equal(canonical(pool, &in, &out), NGX_OK);
        assert_str(&out, cases[i][1], cases[i][0]);
    }

    ngx_destroy_pool(pool);
}


/*
 * The path as the gateway sends it (percent-encoded) is encoded once
 * more, as botocore and AWS do for all services but S3; expected values
 * computed with botocore 1.29 (quote(normalize_url_path(path), '/~')).
 */

static void
test_canonical_uri(void **state)
{
    static const char  *cases[][2] = {
        { "/fn/a%20b/", "/fn/a%2520b/" },
        { "/fn//x/./y/../z", "/fn/x/z" },
        { "/%E1%88%B4", "/%25E1%2588%25B4" },
        { "/a!$&'()*+,;=:@b", "/a%21%24%26%27%28%29%2A%2B%2C%3B%3D%3A%40b" },
        { "/../..", "/" },
        { "/a/b/../../../c/", "/c/" },
        { "", "/" },
        { "/", "/" },
        { "//", "/" },
        { "/.", "/" },
        { "/.../x", "/.../x" },
        { "/\xc3\xa9", "/%C3%A9" },
    };

    check_canonical(ngx_gateway_sigv4_canonical_uri, cases,
                    sizeof(cases) / sizeof(cases[0]));
}


/*
 * Queries as clients send them: decoded ("+" a space) and encoded again,
 * empty pairs skipped, a pair without "=" has an empty value; expected
 * values from botocore's canonical query of urllib's parse_qsl pairs.
 */

static void
test_canonical_query(void **state)
{
    static const char  *cases[][2] = {
        { "b=2&a=%2f%3D&a=b+c&&empty&k=%7e~&u=%C3%A9"
          "&q=a/b?c:d@e!$'()*,;&=x&%zz=1%",
          "=x&%25zz=1%25&a=%2F%3D&a=b%20c&b=2&empty=&k=~~"
          "&q=a%2Fb%3Fc%3Ad%40e%21%24%27%28%29%2A%2C%3B&u=%C3%A9" },
        { "", "" },
        { "&&&", "" },
        { "x", "x=" },
        { "x=", "x=" },
        { "a=1=2", "a=1%3D2" },
        { "z=%", "z=%25" },
        { "z=%4", "z=%254" },
        { "z=%41", "z=A" },
        { "B=1&a=1&A=2&b=0", "A=2&B=1&a=1&b=0" },
        { "k=b&k=a&k=", "k=&k=a&k=b" },
    };

    check_canonical(ngx_gateway_sigv4_canonical_query, cases,
                    sizeof(cases) / sizeof(cases[0]));
}


static void
test_canonical_headers(void **state)
{
    ngx_str_t                    out, sh;
    ngx_pool_t                  *pool;
    ngx_gateway_sigv4_header_t   h[5];

    pool = gateway_test_pool();

    h[0].name = str("X-Amz-Date");
    h[0].value = str("20260101T000000Z");
    h[1].name = str("My-Header");
    h[1].value = str(" \t two\t\t words  ");
    h[2].name = str("HOST");
    h[2].value = str("fn.lambda-url.eu-west-1.on.aws");
    h[3].name = str("my-header");
    h[3].value = str("");
    h[4].name = str("MY-HEADER");
    h[4].value = str("last");

    assert_int_equal(ngx_gateway_sigv4_canonical_headers(pool, h, 5, &out,
                                                         &sh),
                     NGX_OK);
    assert_str(&out, "host:fn.lambda-url.eu-west-1.on.aws\n"
                     "my-header:two words,,last\n"
                     "x-amz-date:20260101T000000Z\n", "headers");
    assert_str(&sh, "host;my-header;x-amz-date", "signed headers");

    ngx_destroy_pool(pool);
}


static void
test_credentials_file(void **state)
{
    ngx_str_t                      text, profile, err;
    ngx_gateway_aws_credentials_t  c;

    text = str("# keys\n"
               "[default]\n"
               "aws_access_key_id=AKIDDEFAULT\n"
               "aws_secret_access_key = s3cret/default\n"
               "\n"
               "  [ fn ]  \r\n"
               "; the function's\n"
               "AWS_ACCESS_KEY_ID\t=\tASIAFN\r\n"
               "aws_secret_access_key=fn+secret\r\n"
               "aws_session_token = tok/en==\r\n"
               "region = eu-west-1\n"
               "[other]\n"
               "aws_access_key_id = AKIDOTHER\n");

    profile = str("default");
    assert_int_equal(ngx_gateway_aws_credentials_file(&text, &profile, &c,
                                                      &err),
                     NGX_OK);
    assert_str(&c.access_key, "AKIDDEFAULT", "default key");
    assert_str(&c.secret_key, "s3cret/default", "default secret");
    assert_int_equal(c.session_token.len, 0);

    profile = str("fn");
    assert_int_equal(ngx_gateway_aws_credentials_file(&text, &profile, &c,
                                                      &err),
                     NGX_OK);
    assert_str(&c.access_key, "ASIAFN", "fn key");
    assert_str(&c.secret_key, "fn+secret", "fn secret");
    assert_str(&c.session_token, "tok/en==", "fn token");

    profile = str("other");
    assert_int_equal(ngx_gateway_aws_credentials_file(&text, &profile, &c,
                                                      &err),
                     NGX_DECLINED);
    assert_str(&err, "the profile has no aws_secret_access_key", "other");

    profile = str("none");
    assert_int_equal(ngx_gateway_aws_credentials_file(&text, &profile, &c,
                                                      &err),
                     NGX_DECLINED);
    assert_str(&err, "no such profile", "none");

    /* what would split a header is refused, and never quoted */

    text = str("[default]\naws_access_key_id = AKID\n"
               "aws_secret_access_key = two words\n");
    profile = str("default");
    assert_int_equal(ngx_gateway_aws_credentials_file(&text, &profile, &c,
                                                      &err),
                     NGX_DECLINED);
    assert_null(ngx_strlcasestrn(err.data, err.data + err.len,
                                 (u_char *) "words", 5 - 1));

    text = str("[default\naws_access_key_id = AKID\n");
    assert_int_equal(ngx_gateway_aws_credentials_file(&text, &profile, &c,
                                                      &err),
                     NGX_DECLINED);

    text = str("[default]\njunk\n");
    assert_int_equal(ngx_gateway_aws_credentials_file(&text, &profile, &c,
                                                      &err),
                     NGX_DECLINED);

    text = str("");
    assert_int_equal(ngx_gateway_aws_credentials_file(&text, &profile, &c,
                                                      &err),
                     NGX_DECLINED);
}


static void
test_iso8601(void **state)
{
    time_t       t;
    ngx_uint_t   i;

    static struct {
        const char  *text;
        time_t       t;
    } good[] = {
        { "1970-01-01T00:00:00Z", 0 },
        { "2015-08-30T12:36:00Z", 1440938160 },
        { "2000-02-29T23:59:59Z", 951868799 },
        { "2026-12-03T15:00:00Z", 1796310000 },
        { "2024-03-01T00:00:00.123456Z", 1709251200 },
    };

    static const char  *bad[] = {
        "2026-12-03T15:00:00", "2026-12-03 15:00:00Z", "2026-13-03T15:00:00Z",
        "2026-12-03T25:00:00Z", "1969-12-31T23:59:59Z",
        "2026-12-03T15:00:00.Zx",
        "2026-12-03T15:00:00+01:00", "", "x026-12-03T15:00:00Z",
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(ngx_gateway_parse_iso8601((u_char *) good[i].text,
                                                   strlen(good[i].text), &t),
                         NGX_OK);
        assert_int_equal(t, good[i].t);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ngx_gateway_parse_iso8601((u_char *) bad[i], strlen(bad[i]), &t)
            != NGX_DECLINED)
        {
            fail_msg("accepted \"%s\"", bad[i]);
        }
    }
}


static void
test_imds_credentials(void **state)
{
    time_t                          exp;
    ngx_str_t                       json, err;
    ngx_pool_t                     *pool;
    ngx_gateway_aws_credentials_t   c;

    pool = gateway_test_pool();

    json = str("{\n  \"Code\" : \"Success\",\n"
               "  \"LastUpdated\" : \"2026-12-03T09:00:00Z\",\n"
               "  \"Type\" : \"AWS-HMAC\",\n"
               "  \"AccessKeyId\" : \"ASIAIMDS\",\n"
               "  \"SecretAccessKey\" : \"imds/secret+1\",\n"
               "  \"Token\" : \"tok/en==\",\n"
               "  \"Expiration\" : \"2026-12-03T15:00:00Z\"\n}");

    assert_int_equal(ngx_gateway_aws_imds_credentials(pool, &json, &c, &exp,
                                                      &err),
                     NGX_OK);
    assert_str(&c.access_key, "ASIAIMDS", "key");
    assert_str(&c.secret_key, "imds/secret+1", "secret");
    assert_str(&c.session_token, "tok/en==", "token");
    assert_int_equal(exp, 1796310000);

    json = str("{\"Code\":\"AssumeRoleUnauthorizedAccess\"}");
    assert_int_equal(ngx_gateway_aws_imds_credentials(pool, &json, &c, &exp,
                                                      &err),
                     NGX_DECLINED);

    json = str("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
               "\"Token\":\"T\"}");
    assert_int_equal(ngx_gateway_aws_imds_credentials(pool, &json, &c, &exp,
                                                      &err),
                     NGX_DECLINED);

    json = str("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\\r\\nX: y\","
               "\"Token\":\"T\",\"Expiration\":\"2026-12-03T15:00:00Z\"}");
    assert_int_equal(ngx_gateway_aws_imds_credentials(pool, &json, &c, &exp,
                                                      &err),
                     NGX_DECLINED);

    json = str("[1]");
    assert_int_equal(ngx_gateway_aws_imds_credentials(pool, &json, &c, &exp,
                                                      &err),
                     NGX_DECLINED);

    ngx_destroy_pool(pool);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_suite_canonical_requests),
        cmocka_unit_test(test_suite_strings_to_sign),
        cmocka_unit_test(test_suite_signatures),
        cmocka_unit_test(test_signing_key_cache),
        cmocka_unit_test(test_canonical_uri),
        cmocka_unit_test(test_canonical_query),
        cmocka_unit_test(test_canonical_headers),
        cmocka_unit_test(test_credentials_file),
        cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_imds_credentials),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
